# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_rolling_summary
short_description: What a rolling change did, per cluster
version_added: "0.1.0"
description:
  - Groups what the members of a rolling change (the P(etcdops.etcd.rolling#role) role) noted by their cluster, and
    says for each cluster whether every member went through (C(done)), one failed (C(failed)), or its pre-flight
    refused it (C(refused), nothing changed).
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description:
      - The variables (C(hostvars)) of each member that planned, with C(inventory_hostname), C(etcd_rolling_plan) (its
        cluster's P(etcdops.etcd.etcd_rolling_preflight#filter) result, with C(cluster)), and what the role noted,
        C(etcd_rolling_stages), C(etcd_rolling_downtime), C(etcd_rolling_snapshots) and C(etcd_rolling_done) (whether
        it went through every hop).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Sum up a rolling run, per cluster
  ansible.builtin.debug:
    msg: >-
      {{ groups.all | map('extract', hostvars) | selectattr('etcd_rolling_plan', 'defined')
         | etcdops.etcd.etcd_rolling_summary }}
"""

RETURN = r"""
_value:
  description: Per cluster name.
  type: dict
  contains:
    result:
      description: C(done), C(failed) or C(refused).
      type: str
    planned:
      description: The planned hops, C(ACTION VERSION) each.
      type: list
      elements: str
    errors:
      description: What the pre-flight refused the cluster for.
      type: list
      elements: str
    stages:
      description: Each hop reached, with the cluster version it reached.
      type: list
      elements: dict
    downtime:
      description: Each member's downtime per hop (and the cluster's outage of a hop made together).
      type: list
      elements: dict
    snapshots:
      description: The snapshots kept on the controller, one before each hop.
      type: list
      elements: str
    not_through:
      description: The members that did not go through every hop.
      type: list
      elements: str
"""

from ansible_collections.etcdops.etcd.plugins.plugin_utils.rolling import rolling_summary


class FilterModule:
    def filters(self):
        return {"etcd_rolling_summary": rolling_summary}
