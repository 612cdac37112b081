#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: etcd_migrate
short_description: Migrate an etcd data directory up or down to a target version before etcd starts
version_added: "0.1.0"
description:
  - Reads the data directory's C(version.txt) (C(<version>/<storage>), for example C(3.5.30/etcd3)) and brings
    the data to O(target_version) with real etcd binaries, one minor at a time.
  - Upgrades run each hop's etcd as a single member on loopback until it is healthy on the hop's cluster
    version, so the data is proven on every version on the way, including the target
    (unless O(defer_final_hop=true)).
  - Enforces upstream's patch floors before leaving a minor (3.5.26, recommended 3.5.32, before 3.6;
    3.6.11 before 3.7) by adding a patch hop when a newer patch is available.
  - Downgrades by one minor; to 3.5 or older by a snapshot saved with the current version and restored with the
    target's tool (member and cluster IDs kept when the member was bootstrapped with the given name, peer URLs
    and token), from 3.6 and later through etcd's downgrade API, which keeps the raft history.
  - Backs the data directory up before the first step that changes data and puts it back from the backup when a
    step fails or when a previous run died in the middle of a step. At every instant either the data directory or a
    complete, fsynced backup holds the member's data, and a marker file says which; a run killed anywhere converges
    when run again. A marker whose backup is missing or incomplete is refused without touching anything.
  - Refuses a directory that is not one member's data (entries etcd does not write, or C(member/) without its db
    and WAL) unless it is empty, and system directories such as C(/) outright.
  - Proves every temporary member runs on this data (its port free before it starts, and the member and cluster
    IDs it reports equal to those in the data).
  - A data directory without C(version.txt), or with an empty one, has its version worked out from its own files,
    with the evidence in RV(detected); ambiguous evidence is refused unless O(current_version) confirms it.
  - Refuses to run while etcd holds the data directory and never runs twice at once on the same directory.
  - Works on a single member's data directory, with etcd stopped. For a member of a multi-member cluster (its
    temporary etcd would find no quorum) one minor up only records the target, as a restart inside the running
    cluster does the hop, once the running patch is at upstream's floor for leaving its minor and the data is ready
    for the next minor (a warning says so); more than one minor, a downgrade or a storage change is refused, and such
    clusters move with the rolling playbook C(playbooks/upgrade.yml), or one minor per restart.
author:
  - etcdops maintainers (@etcdops)
requirements:
  - semver >= 3.0 on the managed host
  - etcd binaries laid out as C(<bin_dir>/<version>/etcd), C(etcdctl) and, from 3.5, C(etcdutl)
extends_documentation_fragment:
  - etcdops.etcd.attributes
attributes:
  check_mode:
    support: full
    details: Returns the plan in RV(plan) and changes nothing.
  diff_mode:
    support: full
    details: Shows C(version.txt) before and after.
options:
  data_dir:
    description: etcd's C(--data-dir). Created (with O(data_dir_mode)) and recorded as O(target_version) when missing.
    type: path
    required: true
  wal_dir:
    description:
      - etcd's C(--wal-dir), when the member keeps its WAL outside C(member/wal).
      - Detection, the backup, every temporary member and a restore use it. A C(member/wal) (or any directory inside
        C(member/)) that is a symlink needs no option, since its content is backed up and restored into its target.
    type: path
  target_version:
    description: The etcd version the data must be ready for, C(MAJOR.MINOR.PATCH).
    type: str
    required: true
  target_storage:
    description:
      - The storage the data must be in.
      - C(etcd2) data (the v2 store) is converted to C(etcd3) with C(etcdctl migrate) of a 3.0-3.4 binary, keys under
        O(ttl_keys_prefix) get a lease of O(ttl_keys_ttl) seconds, and the v2 copy of the keys is dropped (etcd 3.6
        refuses to start on it); the backup keeps the original.
      - C(etcd2) as a target (3.5 or older only) builds a fresh v2-store data dir from every v3 key, leased keys with
        their remaining TTL, checks that the target serves every key over the v2 API, and keeps the original as the
        backup.
    type: str
    choices: [etcd2, etcd3]
    default: etcd3
  ttl_keys_prefix:
    description: Keys under this prefix get a lease when etcd2 data is converted (Kubernetes' C(--ttl-keys-directory)).
    type: str
    default: /registry/events
  ttl_keys_ttl:
    description: The lease TTL, in seconds, for keys under O(ttl_keys_prefix).
    type: int
    default: 3600
  bin_dir:
    description:
      - A directory holding one sub-directory per etcd version, each with C(etcd), C(etcdctl) and C(etcdutl),
        as the C(etcdops.etcd.binaries) role lays them out.
      - Needed whenever the plan runs etcd.
    type: path
  name:
    description:
      - The member's C(--name). Used for the temporary member and for a snapshot restore.
      - When omitted, a restore keeps the name the member reports.
    type: str
  initial_cluster:
    description: C(--initial-cluster) for a snapshot restore; defaults to the member's own name and peer URLs.
    type: str
  listen_peer_urls:
    description: Where the temporary member listens for peers. Keep it on loopback.
    type: str
    default: http://127.0.0.1:18630
  initial_advertise_peer_urls:
    description:
      - The member's advertised peer URLs, for a snapshot restore.
      - Defaults to the peer URLs the member reports, which keeps its member ID.
    type: str
  initial_cluster_token:
    description: The C(--initial-cluster-token) the member was bootstrapped with, for a snapshot restore.
    type: str
    default: etcd-cluster
  client_port:
    description: The loopback client port of the temporary member; pick one that clients do not use.
    type: int
    default: 18629
  server_extra_args:
    description:
      - Extra etcd flags for the temporary member, such as TLS settings.
      - Flags the migration sets itself (C(--data-dir), C(--wal-dir), C(--name), listen and advertise URLs,
        C(--initial-cluster*), C(--snapshot-count), C(--force-new-cluster), C(--config-file)) are refused.
    type: list
    elements: str
    default: []
  current_version:
    description:
      - The version that last ran on the data, for a data directory that has no C(version.txt).
      - Without it, such a directory's version is worked out from its files (see M(etcdops.etcd.etcd_datadir_info));
        where the evidence is ambiguous the module refuses until C(current_version) confirms one of the candidates.
      - When C(version.txt) exists, it must agree.
    type: str
  backup:
    description: Copy the data directory before the first step that changes data.
    type: bool
    default: true
  backup_dir:
    description:
      - Where backups go. Defaults to the data directory's parent. It may not be inside the member's data.
      - Each backup is named after the data directory and a hash of its real path and holds a manifest; only this
        data directory's own backups are ever pruned or restored, so several data directories can share a
        O(backup_dir).
      - The free space is checked before the copy starts.
    type: path
  backups_to_keep:
    description: How many backups of this data directory to keep (at least 1); older ones are deleted after a success.
    type: int
    default: 3
  defer_final_hop:
    description:
      - Do not run the target version during an upgrade; only record it, and let the real service start do the
        last hop, as Kubernetes' C(migrate) did.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a temporary member to become ready, and for other etcd operations.
    type: int
    default: 120
  data_dir_mode:
    description: The mode the data directory ends with (etcd recommends C(0700)).
    type: str
    default: "0700"
notes:
  - The environment of the command-line entry C(etcd-migrate) uses Kubernetes' names
    (C(TARGET_VERSION), C(TARGET_STORAGE), C(DATA_DIRECTORY), C(ETCD_NAME), C(INITIAL_CLUSTER),
    C(LISTEN_PEER_URLS), C(INITIAL_ADVERTISE_PEER_URLS), C(ETCD_CREDS)).
seealso:
  - name: etcd upgrade guides
    description: Upstream's rules for upgrading one minor at a time.
    link: https://etcd.io/docs/v3.6/upgrades/
"""

EXAMPLES = r"""
- name: Migrate the data to etcd 3.6.16 before starting it
  etcdops.etcd.etcd_migrate:
    data_dir: /var/lib/etcd
    target_version: 3.6.16
    bin_dir: /opt/etcd
    name: "{{ inventory_hostname }}"

- name: Show the plan for a data dir that has no version.txt yet
  etcdops.etcd.etcd_migrate:
    data_dir: /var/lib/etcd
    target_version: 3.7.3
    current_version: 3.4.23
    bin_dir: /opt/etcd
  check_mode: true
  register: plan

- name: Go back one minor, keeping two backups in a dedicated place
  etcdops.etcd.etcd_migrate:
    data_dir: /var/lib/etcd
    target_version: 3.5.35
    bin_dir: /opt/etcd
    backup_dir: /var/backups/etcd
    backups_to_keep: 2
"""

RETURN = r"""
previous:
  description: The version and storage the data was at.
  returned: always
  type: dict
  sample: {"version": "3.4.23", "storage": "etcd3"}
current:
  description: The version and storage the data is at now (in check mode, would be).
  returned: always
  type: dict
  sample: {"version": "3.7.3", "storage": "etcd3"}
plan:
  description: The planned steps, each an action with the versions it goes from and to and the binaries it runs.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "upgrade", "from_version": "3.4.23", "to_version": "3.5.35", "binary": "3.5.35",
            "tool": null}]
steps:
  description: The steps done, with the seconds each took.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "upgrade", "from": "3.4.23", "to": "3.5.35", "binary": "3.5.35", "seconds": 6.1}]
backup:
  description: The path of the backup made by this run, if any.
  returned: always
  type: str
  sample: /var/lib/etcd.5f0c1a2b3d.etcd-backup.20261128T140000123456Z.v3.4.23
detected:
  description: For a data directory without C(version.txt), what its files showed and the evidence.
  returned: when the version was worked out from the data files
  type: dict
  sample: {"version": "3.5", "cluster_version": "3.5", "ambiguous": false, "evidence": ["meta/term is set => at least 3.5"]}
removed_backups:
  description: Old backups deleted to keep O(backups_to_keep).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.etcdops.etcd.plugins.module_utils.engine import migrate
from ansible_collections.etcdops.etcd.plugins.module_utils.options import argument_spec
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import SEMVER_IMPORT_ERROR, MigrationError

ARGUMENT_SPEC = argument_spec()


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if SEMVER_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("semver", url="https://pypi.org/project/semver/"),
                         exception=SEMVER_IMPORT_ERROR)
    try:
        result = migrate(module.params, check_mode=module.check_mode)
    except MigrationError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff", None)
    # Ansible shows warnings itself; the key is reserved in module results.
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
