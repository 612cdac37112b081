# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_rejected_settings
short_description: The etcd configuration keys a version no longer accepts
version_added: "0.1.0"
description:
  - Lists the keys of the server role's configuration that etcd O(_input) rejects, so the configuration leaves
    them out; the same rule the rolling pre-flight applies to each hop (M(etcdops.etcd.etcd_migrate)'s plan).
  - C(enable-v2) from 3.6, and the C(experimental-*) keys of O(extra_config) from 3.7.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The etcd version, C(MAJOR.MINOR.PATCH).
    type: str
    required: true
  extra_config:
    description: More configuration keys, as the server role's C(etcd_extra_config).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Keys 3.7.3 rejects
  ansible.builtin.debug:
    msg: "{{ '3.7.3' | etcdops.etcd.etcd_rejected_settings({'experimental-initial-corrupt-check': true}) }}"
  # ['enable-v2', 'experimental-initial-corrupt-check']
"""

RETURN = r"""
_value:
  description: The rejected keys.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.plugin_utils.rolling import rejected_settings
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import SEMVER_IMPORT_ERROR


def etcd_rejected_settings(version, extra_config=None):
    if SEMVER_IMPORT_ERROR:
        raise AnsibleFilterError("etcd_rejected_settings needs the Python library semver on the controller")
    return rejected_settings(str(version), extra_config)


class FilterModule:
    def filters(self):
        return {"etcd_rejected_settings": etcd_rejected_settings}
