# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_membership_change
short_description: Decide one membership change of a running etcd cluster (add, remove or replace a member)
version_added: "0.1.0"
description:
  - From what a running member reports (C(member list), C(endpoint health --cluster), C(endpoint status --cluster),
    each with C(-w json)), decides what adding, removing or replacing one member changes, or why it must not.
  - Refuses while a member other than the one changed is unhealthy, while a learner of an earlier add is not
    promoted, when the removal could not commit or would remove the last member, and when the new member's version
    is not the cluster's (members join as learners, from etcd 3.4).
  - A run stopped part-way is resumed; a member already removed is not removed again, a learner already added is
    started and promoted.
  - Never raises for a cluster problem; every problem found is one entry of C(errors), so all are shown at once.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The member changed, with C(name) (etcd's member name) and, to add or replace, C(peer_url) and
      C(version) (the etcd version it will run).
    type: dict
    required: true
  action:
    description: C(add), C(remove) or C(replace) (remove the dead member, then add the new host).
    type: str
    required: true
  members:
    description: The C(members) of C(etcdctl member list -w json).
    type: list
    elements: dict
    required: true
  health:
    description: The entries of C(etcdctl endpoint health --cluster -w json).
    type: list
    elements: dict
    required: true
  statuses:
    description: The entries of C(etcdctl endpoint status --cluster -w json) (members that did not answer missing).
    type: list
    elements: dict
    required: true
  replaces:
    description: For C(replace), the name of the dead member; the target's own name when empty.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Decide adding etcd-4
  ansible.builtin.set_fact:
    decision: >-
      {{ {'name': 'etcd-4', 'peer_url': 'https://10.0.0.4:2380', 'version': '3.6.16'}
         | etcdops.etcd.etcd_membership_change('add', members.json.members, health.json, statuses.json) }}
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    errors:
      description: What blocks the change; empty when it may start.
      type: list
      elements: str
    remove:
      description: The member to remove, C(id) (hexadecimal), C(name) and C(client_urls); null when none.
      type: dict
    move_leader:
      description: The ID of the member to hand leadership to before the removal (the removed member leads), or "".
      type: str
    add:
      description: The member to add, C(name), C(peer_url) and C(added) (already a learner); null when none.
      type: dict
    initial_cluster:
      description: The joining member's C(initial-cluster), the members etcd knows and itself.
      type: str
    changes:
      description: What the change does, in words, in order.
      type: list
      elements: str
    voters_before:
      description: Voting members before the change.
      type: int
    voters_after:
      description: Voting members after it.
      type: int
"""

from ansible_collections.etcdops.etcd.plugins.plugin_utils.membership_change import membership_change


def etcd_membership_change(target, action, members, health, statuses, replaces=""):
    return membership_change(action, target, members, health, statuses, replaces)


class FilterModule:
    def filters(self):
        return {"etcd_membership_change": etcd_membership_change}
