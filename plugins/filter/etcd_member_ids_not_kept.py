# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_member_ids_not_kept
short_description: The running members whose IDs a restore does not give again
version_added: "0.2.0"
description:
  - etcd makes a member's ID from its peer URLs and the cluster token when it bootstraps a cluster, and
    C(snapshot restore) makes it the same way; C(member add) also mixes in the time.
  - Returns the names of the running members whose IDs a restore of the given peer URLs with the given token
    does not make again - members added by C(member add), or made with another token than the one given (a
    configuration not updated after an earlier restore onto a new token).
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The running members, C(etcdctl member list -w json)'s C(members).
    type: list
    elements: dict
    required: true
  peer_urls:
    description: The peer URLs of each member the restore makes, each member's comma-separated.
    type: list
    elements: str
    required: true
  token:
    description: The cluster token the restore uses.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Say whether the restore keeps the member IDs
  ansible.builtin.debug:
    msg: "{{ (member_list.stdout | from_json).members | etcdops.etcd.etcd_member_ids_not_kept(peer_urls, token) }}"
  vars:
    peer_urls: [https://etcd-1:2380, https://etcd-2:2380, https://etcd-3:2380]
    token: etcd-cluster
"""

RETURN = r"""
_value:
  description: The names (or hexadecimal IDs, for a member not started yet) of the members whose IDs change.
  type: list
  elements: str
"""

from ansible_collections.etcdops.etcd.plugins.plugin_utils.member_ids import ids_not_kept


def etcd_member_ids_not_kept(members, peer_urls, token):
    return ids_not_kept(members, peer_urls, token)


class FilterModule:
    def filters(self):
        return {"etcd_member_ids_not_kept": etcd_member_ids_not_kept}
