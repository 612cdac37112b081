# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The hops of a rolling upgrade or downgrade of a running cluster, from etcd_migrate's own plan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .plan import DOWNGRADE_API, DOWNGRADE_SNAPSHOT, RECORD, UPGRADE, plan_migration
from .versions import MigrationError, minor, parse_version


def rolling_hops(running, target, available):
    """[{"version", "action"}] to roll through every member, in order.

    ``running`` holds each member's server version.  Two versions are a hop
    that stopped part-way: it is finished first, then planning goes on.
    """
    versions = sorted({parse_version(v, "running version") for v in running})
    wanted = parse_version(target, "target")
    offered = sorted({parse_version(v, "available version") for v in available} | {wanted})
    if not versions:
        raise MigrationError("no member reported its version: is etcd running on every member?")
    if len(versions) > 2 or (len(versions) == 2 and abs(minor(versions[1])[1] - minor(versions[0])[1]) > 1):
        raise MigrationError("the members run %s: a cluster must be on one version (or in the middle of one hop) "
                             "before a rolling change" % ", ".join(str(v) for v in versions))
    hops = []
    current = versions[0]
    if len(versions) == 2:
        # Resume: finish the hop the members were rolling through (up, or down to the lower version).
        resume = versions[1] if wanted >= versions[1] else versions[0]
        hops.append({"version": str(resume), "action": "upgrade" if resume == versions[1] else "downgrade"})
        current = resume
    steps = plan_migration(current, "etcd3", wanted, "etcd3", offered).steps
    for step in steps:
        if step.action == DOWNGRADE_SNAPSHOT:
            raise MigrationError(
                "a running %s cluster cannot be downgraded in place: etcd's downgrade API starts with 3.6. "
                "Offline path: take a snapshot, stop every member, and run etcd_migrate (target %s) on each "
                "member's data restored from it" % (step.from_version, step.to_version))
        if step.action == DOWNGRADE_API:
            hops.append({"version": step.binary, "action": "downgrade"})
        elif step.action in (UPGRADE, RECORD):
            hops.append({"version": step.binary or step.to_version, "action": "upgrade"})
    return hops
