# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_migration_versions
short_description: The etcd versions a migration needs, from etcd_migrate's own plan
version_added: "0.1.0"
description:
  - Plans the migration from O(_input) to O(target) with the same plan as M(etcdops.etcd.etcd_migrate) and returns every
    version whose binaries it runs, with the target, sorted. With no current version only the target is needed.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: The version the data is at now (empty when there is no data yet).
    type: str
    required: true
  target:
    description: The version to migrate to.
    type: str
    required: true
  available:
    description: The versions that can be installed (the releases a mirror offers), for intermediate hops.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Everything a 3.4.23 -> 3.7.3 migration runs
  ansible.builtin.debug:
    msg: "{{ '3.4.23' | etcdops.etcd.etcd_migration_versions('3.7.3', ['3.4.23', '3.5.35', '3.6.16', '3.7.3']) }}"
"""

RETURN = r"""
_value:
  description: The sorted versions.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.module_utils.plan import plan_migration
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import (
    SEMVER_IMPORT_ERROR, MigrationError, parse_version)


def etcd_migration_versions(current, target, available):
    if SEMVER_IMPORT_ERROR:
        raise AnsibleFilterError("etcd_migration_versions needs the Python library semver on the controller")
    try:
        wanted = parse_version(target, "target")
        if not current:
            return [str(wanted)]
        offered = [parse_version(v, "available version") for v in available] + [wanted]
        plan = plan_migration(parse_version(current, "current version"), "etcd3", wanted, "etcd3", offered)
    except MigrationError as exc:
        raise AnsibleFilterError(str(exc))
    needed = {wanted} | {v for s in plan.steps for v in (s.binary, s.tool) if v}
    return [str(v) for v in sorted(needed)]


class FilterModule:
    def filters(self):
        return {"etcd_migration_versions": etcd_migration_versions}
