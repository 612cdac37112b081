#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: etcd_datadir_info
short_description: Tell which etcd version a data directory is for, from its own files
version_added: "0.1.0"
description:
  - Reads an etcd data directory without changing it and without taking a lock etcd would wait on
    (bbolt C(member/snap/db), the WAL segments and the newest v2 C(.snap)), and reports the cluster and storage
    versions, lower bounds from format features, keys left stale by an older restore tool, a downgrade in progress,
    whether the next minor can start on it, member and cluster IDs and the db size, with the evidence behind each
    conclusion.
  - etcd records no binary version on disk; RV(version) is the minor the data is for, and RV(ambiguous) is true
    when the files disagree (for example a newer binary that ran without settling the cluster version).
  - Read a copy, or stop etcd first, for a consistent picture; a live db can change while it is read.
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  data_dir:
    description: etcd's C(--data-dir).
    type: path
    required: true
  wal_dir:
    description: etcd's C(--wal-dir), when the member keeps its WAL outside C(member/wal).
    type: path
  count_keys:
    description: Count the revisions in the C(key) bucket (reads every leaf page, so it grows with the db).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Find out what a data dir without version.txt holds
  etcdops.etcd.etcd_datadir_info:
    data_dir: /var/lib/etcd
  register: etcd_data

- name: Stop when the files do not agree
  ansible.builtin.assert:
    that: not etcd_data.ambiguous
    fail_msg: "{{ etcd_data.evidence }}"
"""

RETURN = r"""
layout:
  description: C(empty), C(3.x), or a v2-only layout (C(2.0), C(2.1-2.3)).
  returned: always
  type: str
  sample: 3.x
version:
  description: The minor the data is for (the higher of the cluster version and the format's lower bound).
  returned: always
  type: str
  sample: "3.5"
ambiguous:
  description: True when the evidence does not settle the version; give C(current_version) to etcd_migrate then.
  returned: always
  type: bool
cluster_version:
  description: The effective cluster version (bbolt, or a newer committed WAL entry).
  returned: when the layout is 3.x
  type: str
  sample: "3.5"
storage_version:
  description: bbolt C(meta/storageVersion) (3.6 and later), unless stale.
  returned: when the layout is 3.x
  type: str
  sample: 3.6.0
lower_bound:
  description: The lowest minor the format features allow.
  returned: when the layout is 3.x
  type: str
  sample: "3.5"
evidence:
  description: Each fact read and what it implies.
  returned: always
  type: list
  elements: str
stale_keys:
  description: Keys ignored as left over by an older restore tool.
  returned: when the layout is 3.x
  type: list
  elements: str
downgrade_in_progress:
  description: Whether an enabled downgrade has not reached its target storage version yet.
  returned: when the layout is 3.x
  type: bool
ready_for_next:
  description: For C(3.6) and C(3.7), whether that minor can start on the data as it is, and the blockers.
  returned: when the layout is 3.x
  type: dict
  sample: {"3.6": {"ready": true, "blockers": []}, "3.7": {"ready": false, "blockers": ["..."]}}
member_id:
  description: The member ID (hex) from the WAL metadata.
  returned: when the layout is 3.x
  type: str
cluster_id:
  description: The cluster ID (hex) from the WAL metadata.
  returned: when the layout is 3.x
  type: str
member_name:
  description: The member's name as recorded in bbolt.
  returned: when the layout is 3.x
  type: str
db:
  description: What bbolt says (page size, byte order, txid, versions, meta keys, whether auth is enabled, members, lease count, size, revisions).
  returned: when the layout is 3.x
  type: dict
wal:
  description: What the WAL says (IDs, HardState, snapshot records, last version entry, v2 entries after the last snapshot).
  returned: when the layout is 3.x
  type: dict
snap:
  description: The newest v2 C(.snap) (path, index, C(/0/version), custom v2 content), if any.
  returned: when the layout is 3.x
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.etcd.plugins.module_utils.detect import safe_detect


def main():
    module = AnsibleModule(argument_spec=dict(data_dir=dict(type="path", required=True),
                                              wal_dir=dict(type="path"),
                                              count_keys=dict(type="bool", default=False)),
                           supports_check_mode=True)
    data_dir = module.params["data_dir"]
    if not os.path.isdir(data_dir):
        module.fail_json(msg="data_dir %s is not a directory: point it at etcd's --data-dir" % data_dir)
    info = safe_detect(data_dir, module.params["count_keys"], module.params["wal_dir"])
    if "error" in info:
        module.fail_json(msg="cannot read %s: %s" % (data_dir, info["error"]), **info)
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
