# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What a stopped member of a multi-member cluster may have done to its data.

A temporary etcd on such a member's data would wait for a quorum that is not
there.  One minor up is what a restart inside the running cluster does: only
the target is recorded and the real start does the hop (as Kubernetes' etcd
``migrate`` did), once the data is fit for it.  Everything else is refused
with the way that works.  A pure function: the caller reads the data dir.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .compat import PATCH_FLOORS
from .plan import RECORD, Plan, Step
from .versions import MigrationError, minor, minor_text, parse_version

ROLLING = "roll the cluster with the playbook playbooks/upgrade.yml"


def record_only_plan(members, current, current_storage, target, target_storage, readiness, available):
    """The record-only plan for member ``current`` -> ``target`` of a ``members``-member cluster, or MigrationError.

    ``readiness`` is etcd_datadir_info's ``ready_for_next`` (minor text ->
    {ready, blockers}); ``available`` the binary versions at hand, named in
    the fix when the running patch is too old.
    """
    where = "this member of a %d-member cluster" % members
    if minor(target) == minor(current) and current_storage == target_storage:
        # A patch change: a restart on the other patch is all it takes.
        return Plan([] if target == current else [Step(RECORD, current, target, None, None, target_storage)],
                    [])
    if current_storage != target_storage:
        raise MigrationError("%s cannot change its storage from %s to %s: the other members still serve %s; "
                             "convert a single-member copy of the data (snapshot restore) instead"
                             % (where, current_storage, target_storage, current_storage))
    if minor(target) < minor(current):
        raise MigrationError("%s cannot go down from %s to %s on its own: %s, which downgrades every member "
                             "together" % (where, current, target, ROLLING))
    next_minor = (current.major, current.minor + 1)
    if minor(target) > next_minor:
        raise MigrationError("%s cannot go from %s to %s in one restart: a running cluster moves one minor at a "
                             "time; %s, or restart each member on %d.%d first and then on the next minor"
                             % ((where, current, target, ROLLING) + next_minor))
    warnings = []
    floors = PATCH_FLOORS.get(minor(current))
    if floors:
        floor, recommended = parse_version(floors[0]), parse_version(floors[1])
        if current < floor:
            patches = [v for v in available if minor(v) == minor(current) and v >= floor]
            raise MigrationError("%s runs etcd %s, below %s, which %s must reach before %s: restart it on etcd %s "
                                 "first (give current_version if the data is already at such a patch)"
                                 % (where, current, floor, minor_text(current), minor_text(target),
                                    max(patches) if patches else "%s or newer" % recommended))
        if current < recommended:
            warnings.append("etcd %s is below %s, which upstream recommends before leaving %s"
                            % (current, recommended, minor_text(current)))
    ready = readiness.get(minor_text(target))
    if ready and not ready["ready"]:
        raise MigrationError("the data of %s is not ready for etcd %s: %s" % (where, minor_text(target),
                                                                              "; ".join(ready["blockers"])))
    warnings.append("%s: only version.txt now says %s; etcd %s does the hop itself when it starts on this data "
                    "while the other members run" % (where, target, target))
    return Plan([Step(RECORD, current, target, None, None, target_storage)], warnings)
