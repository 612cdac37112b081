#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: etcd_data_restore
short_description: Replace a member's data dir with a snapshot's restore, staged while it runs, swapped by renames
version_added: "0.1.0"
description:
  - One member's part of restoring a cluster from a snapshot (the backup role's C(restore.yml)), in three phases
    so that the cluster is down only for the stop, a few renames and the start.
  - O(state=prepared), with the member running. Refuses when the data dir's filesystem has less free space than
    twice the snapshot plus a 64 MB WAL segment (naming the mount and the bytes). Restores the snapshot with the
    tool of its etcd version (C(etcdutl), or C(etcdctl) before 3.5) into a staging directory on the data's
    filesystem (C(.DATA.restore-staged) beside the data dir, or C(.restore-staged) inside it when the data dir is
    a mount point), checks that the restored db is at the snapshot's revision and has a WAL, writes
    C(version.txt), gives it O(owner), O(group) and mode 0700, and records it in a journal
    (C(.DATA.restore.json) beside the data dir, or C(.restore.json) inside a mount point).
  - O(state=swapped), with the member stopped. The live data goes aside, kept (the data dir renamed to
    C(DATA.before-restore-STAMP), or for a mount point its entries renamed into C(DATA/.before-restore-STAMP)),
    and the staged data takes its place, by renames only, the journal recording each step.
  - O(state=finished), once the cluster is verified. The journal goes, so the next restore starts afresh.
  - >-
    Crash invariant (the process tree killed at any moment, then the same play run again). The live data is never
    written, only renamed: until the journal says C(aside) it is where etcd reads it; then it is whole in the
    aside place, or, mid-way through a mount point's entries, split between the data dir and the aside place, the
    journal's step saying which entries are the old ones. The staged data counts only once it carries its final
    name and the journal names it; a C(.partial) staging, or a staging without a journal, is removed and restored
    again. Every rename is followed by a directory fsync and every journal write is atomic, and a step is written
    only once the renames before it are done, so a re-run finishes the renames that are left (their source still
    there, their target not yet) and never repeats one. The STAMP comes from the journal on a re-run, never from
    the clock: a killed restore keeps a single aside place.
  - A journal for another snapshot or other member settings is refused once its swap has begun (a person
    decides); before that, its staging is discarded and the new snapshot staged.
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.attributes
attributes:
  check_mode:
    support: full
    details: Checks the data dir, the tools and the free space and reports the phase's plan; writes nothing.
  diff_mode:
    support: none
options:
  state:
    description: The phase to run (see the description).
    type: str
    choices: [prepared, swapped, finished]
    required: true
  data_dir:
    description: The member's C(--data-dir). A separate C(--wal-dir) is not supported.
    type: path
    required: true
  snapshot:
    description: The snapshot file on the member (C(etcdctl snapshot save)'s).
    type: path
    required: true
  version:
    description: The etcd version that took the snapshot; its tools restore it and C(version.txt) records it.
    type: str
    required: true
  bin_dir:
    description: Where the etcd versions are installed, as C(BIN_DIR/VERSION/etcdutl) (the binaries role's).
    type: path
    required: true
  name:
    description: The member's C(--name).
    type: str
    required: true
  initial_cluster:
    description: The cluster's C(--initial-cluster), every member of it.
    type: str
    required: true
  initial_cluster_token:
    description: The C(--initial-cluster-token) of the restored cluster (a new one gives new member IDs).
    type: str
    required: true
  initial_advertise_peer_urls:
    description: The member's C(--initial-advertise-peer-urls).
    type: str
    required: true
  stamp:
    description:
      - The C(STAMP) of the aside place (C(YYYYmmddTHHMMSSZ)), the same for every member of a restore. A restore
        in progress keeps its journal's. Default, the current UTC time.
    type: str
  owner:
    description: Owner of the restored data (etcd's user).
    type: str
  group:
    description: Group of the restored data.
    type: str
notes:
  - O(state=swapped) with the member running would swap the data from under it; the caller stops it first.
seealso:
  - module: etcdops.etcd.etcd_migrate
"""

EXAMPLES = r"""
- name: Stage the snapshot's restore while the member runs
  etcdops.etcd.etcd_data_restore:
    state: prepared
    data_dir: /var/lib/etcd
    snapshot: /var/lib/etcdops/snapshots/etcd-3.5.30-20261129T200000Z.db
    version: 3.5.30
    bin_dir: /opt/etcd
    name: etcd-1
    initial_cluster: etcd-1=https://10.0.0.1:2380,etcd-2=https://10.0.0.2:2380,etcd-3=https://10.0.0.3:2380
    initial_cluster_token: etcd-cluster
    initial_advertise_peer_urls: https://10.0.0.1:2380
    stamp: 20261129T201500Z
    owner: etcd
    group: etcd
  register: restore_staged

- name: Stop the member
  ansible.builtin.systemd_service:
    name: etcd
    state: stopped

- name: Swap the staged data in
  etcdops.etcd.etcd_data_restore:
    state: swapped
    data_dir: /var/lib/etcd
    snapshot: /var/lib/etcdops/snapshots/etcd-3.5.30-20261129T200000Z.db
    version: 3.5.30
    bin_dir: /opt/etcd
    name: etcd-1
    initial_cluster: etcd-1=https://10.0.0.1:2380,etcd-2=https://10.0.0.2:2380,etcd-3=https://10.0.0.3:2380
    initial_cluster_token: etcd-cluster
    initial_advertise_peer_urls: https://10.0.0.1:2380
    owner: etcd
    group: etcd
"""

RETURN = r"""
step:
  description: The journal's step after the phase (C(staged), C(aside), C(in), C(swapped)); none once finished.
  returned: always
  type: str
  sample: swapped
stamp:
  description: The STAMP of the aside place (the journal's, for a restore in progress).
  returned: always
  type: str
  sample: 20261129T201500Z
aside:
  description: Where the live data is kept once swapped.
  returned: always
  type: str
  sample: /var/lib/etcd.before-restore-20261129T201500Z
staging:
  description: Where the restore is staged.
  returned: always
  type: str
journal:
  description: The journal file.
  returned: always
  type: str
mount_point:
  description: Whether the data dir is a mount point (its entries, not itself, are renamed).
  returned: always
  type: bool
resuming:
  description: >-
    O(state=prepared) found a swap in progress (a killed run): nothing to stage, the swap goes on.
  returned: when O(state=prepared)
  type: bool
seconds:
  description: How long the phase's work took (the tool's restore and checks; the renames).
  returned: when the phase changed something
  type: float
  sample: 0.004
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.etcd.plugins.module_utils.data_restore import DataRestore, STAMP_PATTERN
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["prepared", "swapped", "finished"], required=True),
            data_dir=dict(type="path", required=True),
            snapshot=dict(type="path", required=True),
            version=dict(type="str", required=True),
            bin_dir=dict(type="path", required=True),
            name=dict(type="str", required=True),
            initial_cluster=dict(type="str", required=True),
            initial_cluster_token=dict(type="str", required=True, no_log=False),  # a name, not a secret
            initial_advertise_peer_urls=dict(type="str", required=True),
            stamp=dict(type="str"),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["stamp"] and not STAMP_PATTERN.match(params["stamp"]):
        module.fail_json(msg="stamp must be a UTC time as YYYYmmddTHHMMSSZ (got %r)" % params["stamp"])
    restore = DataRestore(params["data_dir"], params["snapshot"], params["bin_dir"], params["version"],
                          params["name"], params["initial_cluster"], params["initial_cluster_token"],
                          params["initial_advertise_peer_urls"], stamp=params["stamp"], owner=params["owner"],
                          group=params["group"])
    phase = dict(prepared=restore.prepare, swapped=restore.swap, finished=restore.finish)[params["state"]]
    try:
        result = phase(check_mode=module.check_mode)
    except (MigrationError, OSError) as error:
        module.fail_json(msg=str(error), journal=restore.journal_path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
