# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_restore_version_refusal
short_description: Why a snapshot may not be restored onto an etcd version, or nothing
version_added: "0.1.0"
description:
  - The backup role's restore takes a snapshot back onto its own version, or one minor below it where etcd has no
    downgrade API (the offline downgrade, 3.5 to 3.4 and 3.4 to 3.3), the rule of the rolling plan's C(offline)
    hop (M(etcdops.etcd.etcd_migrate)'s plan).
  - Returns the reason it may not, naming the way, or an empty string when it may.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The etcd version the snapshot was taken on, C(MAJOR.MINOR.PATCH).
    type: str
    required: true
  version:
    description: The etcd version to restore it with and start the members on.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: A 3.5 snapshot onto 3.4 (the offline downgrade) may be restored
  ansible.builtin.debug:
    msg: "{{ '3.5.35' | etcdops.etcd.etcd_restore_version_refusal('3.4.23') }}"
  # ''
"""

RETURN = r"""
_value:
  description: The reason, or an empty string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.plugin_utils.rolling import restore_version_refusal
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import SEMVER_IMPORT_ERROR


def etcd_restore_version_refusal(snapshot_version, version):
    if SEMVER_IMPORT_ERROR:
        raise AnsibleFilterError("etcd_restore_version_refusal needs the Python library semver on the controller")
    return restore_version_refusal(str(snapshot_version), str(version))


class FilterModule:
    def filters(self):
        return {"etcd_restore_version_refusal": etcd_restore_version_refusal}
