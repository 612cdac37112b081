# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_rolling_preflight
short_description: Pre-flight decisions and hops of a rolling change of a running etcd cluster
version_added: "0.1.0"
description:
  - Plans with M(etcdops.etcd.etcd_migrate)'s own plan from the versions the members report to O(target) and returns
    each hop to roll through every member, C(upgrade) (including upstream's patch floors) or C(downgrade)
    (etcd's downgrade API, from 3.6), with the member order (the leader last) and what blocks the change.
  - Two running versions one hop apart mean a hop stopped part-way; it is finished first.
  - A downgrade one minor below a cluster under 3.6 (3.5 to 3.4, 3.4 to 3.3) has no downgrade API. It is an
    C(offline) hop only with C(offline_downgrade_allowed) (every member restored from a snapshot with the target's
    tool, the downtime stated in C(warnings)), else refused naming that setting. Further down it is refused, and a
    3.6 cluster goes to 3.5 first, in a run of its own.
  - Never raises for a cluster problem; every problem found is one entry of C(errors), so all are shown at once.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description:
      - One dict per member as it reports itself, with C(host), C(id) (member ID), C(leader) (the leader ID it
        sees), C(version) (server version), C(healthy), C(db_size) and C(free_bytes) (where snapshots go).
      - Optionally C(ready_for_next) and C(auth_enabled), as M(etcdops.etcd.etcd_datadir_info) reads them from the
        member's data while it runs (C(auth_enabled) V(null) when unreadable, and a 3.4 to 3.5 hop is then refused),
        C(cluster_members), the cluster's C(member list) as C(id) and C(name) (members the run does not reach
        are refused), and C(learner), the member's C(isLearner) status (a learner is refused, to be promoted or removed).
    type: list
    elements: dict
    required: true
  target:
    description: The version to reach.
    type: str
    required: true
  available:
    description: The versions that can be installed, for intermediate hops.
    type: list
    elements: str
    required: true
  settings:
    description:
      - The server role's C(enable_v2) and C(extra_config), to list what the next versions drop, and its
        C(snapshot_count), the count of hops that need no other.
      - C(root_password_given), whether C(etcd_root_password) is set. A member whose data has auth enabled blocks
        the change without it (snapshots, leader moves and downgrades need etcd's root user).
      - C(cluster_restart_allowed), whether a hop may stop every member at once (3.4 to 3.5 with auth enabled, which
        cannot roll), and C(forks), how many hosts Ansible runs at once (such a hop needs one per member).
      - C(offline_downgrade_allowed), whether a downgrade below 3.6 may restore every member from a snapshot (an
        C(offline) hop), and C(clusters), how many clusters the run changes (such a hop takes one per run).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Plan 3.4.23 -> 3.7.3 for three members
  ansible.builtin.debug:
    msg: >-
      {{ [{'host': 'a', 'id': 1, 'leader': 1, 'version': '3.4.23', 'healthy': true, 'db_size': 20480, 'free_bytes': 10000000}]
         | etcdops.etcd.etcd_rolling_preflight('3.7.3', ['3.5.35', '3.6.16', '3.7.3']) }}
"""

RETURN = r"""
_value:
  description: The decisions.
  type: dict
  contains:
    hops:
      description:
        - Each hop with C(version), C(action), C(from), C(minor), C(check_v2store) (run etcdutl check v2store on
          each stopped member before it starts this hop) and C(together) (every member stopped, then all started,
          for 3.4 to 3.5 with auth enabled, when C(cluster_restart_allowed)).
        - And the server role's settings for the hop, C(snapshot_count) (1 on a 3.5 or 3.6 hop that a later hop
          follows, so members snapshot past their v2-era WAL entries) and C(rejected_settings) (the configuration
          keys the hop's version rejects, left out of its configuration).
        - C(action) is C(upgrade), C(downgrade), C(snapshot) (a restart on the running version with snapshot-count
          1, first, when v2 requests in a member's WAL tail would block the next minor), or C(offline) (every member
          stopped and restored from a snapshot onto the version, below 3.6).
      type: list
      elements: dict
    order:
      description: The hosts in the order to roll them, the leader last.
      type: list
      elements: str
    warnings:
      description: Upstream's recommendations the plan could not meet.
      type: list
      elements: str
    dropped_settings:
      description: Settings the server role leaves out of the configuration of the versions that reject them.
      type: list
      elements: str
    errors:
      description: What blocks the change; empty when it may start.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.plugin_utils.rolling import rolling_preflight
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import SEMVER_IMPORT_ERROR


def etcd_rolling_preflight(members, target, available, settings=None):
    if SEMVER_IMPORT_ERROR:
        raise AnsibleFilterError("etcd_rolling_preflight needs the Python library semver on the controller")
    return rolling_preflight(members, target, available, settings)


class FilterModule:
    def filters(self):
        return {"etcd_rolling_preflight": etcd_rolling_preflight}
