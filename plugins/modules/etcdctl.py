#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: etcdctl
short_description: Run one etcdctl (v3 API) call against a member, with TLS and etcd's auth, credentials kept out of sight
version_added: "0.1.0"
description:
  - Runs C(etcdctl ARGV...) with the endpoints, the TLS files and the user given here, and nothing else; every
    C(ETCD_*) and C(ETCDCTL_*) variable of the host's environment is dropped first, so an inherited
    C(ETCDCTL_ENDPOINTS) cannot redirect the call.
  - The user and O(password) reach etcdctl in its own environment only (C(ETCDCTL_USER=user:password), read by
    etcdctl 3.3 to 3.7), never in its command line, which every local user sees in C(ps), nor in the task's
    C(environment), which Ansible writes into the remote command. O(password) is never logged.
  - With auth enabled, etcd 3.5 and later refuse every call without a user (even C(endpoint health)); C(snapshot
    save), C(endpoint hashkv), C(move-leader) and C(downgrade) need a user with the root role on 3.4 to 3.7
    (C(move-leader) from 3.5). A refusal fails with a message naming C(etcd_root_user) and C(etcd_root_password),
    the roles' variables for that user.
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.attributes
attributes:
  check_mode:
    support: partial
    details:
      - Read-only subcommands run in check mode and report their answer; any other is not run and reports
        C(changed).
      - Read-only are C(endpoint ...), C(member list), C(get), C(alarm list), C(auth status), C(downgrade validate),
        C(lease list), C(lease timetolive), C(role get|list), C(user get|list), C(snapshot status) and C(version),
        decided by the words of O(argv) before its first flag.
  diff_mode:
    support: none
options:
  argv:
    description:
      - The subcommand and its arguments, one list item each (for example C([endpoint, status, -w, json])).
      - Never put credentials here (C(--user), C(--password)), which would show in C(ps).
    type: list
    elements: str
    required: true
  endpoints:
    description: The members' client URLs (C(--endpoints)).
    type: list
    elements: str
    default: [http://127.0.0.1:2379]
  cacert:
    description: CA bundle that verifies the members' server certificates (C(--cacert)).
    type: path
  cert:
    description: Client certificate (C(--cert)), when the members ask for one.
    type: path
  key:
    description: Key of O(cert).
    type: path
  user:
    description: etcd user the call runs as when O(password) is given (the roles' C(etcd_root_user)).
    type: str
    default: root
  password:
    description:
      - Password of O(user) (the roles' C(etcd_root_password)). Empty means no user (auth disabled).
      - Never logged; kept out of the result, C(ps) and C(-vvv) output.
    type: str
    default: ""
  etcdctl:
    description: The etcdctl to run, a path or a name looked up in C(PATH).
    type: path
    default: etcdctl
  dial_timeout:
    description: Seconds to wait for a connection (C(--dial-timeout)); etcdctl's own default when not given.
    type: float
  command_timeout:
    description: Seconds a request may take (C(--command-timeout)); etcdctl's own default when not given.
    type: float
notes:
  - The module reports C(changed) for any subcommand that is not read-only; callers that know better set
    C(changed_when).
  - C(ETCDCTL_API=3) is always set (3.3's etcdctl needs it; 3.6 and later warn that they do not know it).
seealso:
  - module: etcdops.etcd.etcd_member_switch
"""

EXAMPLES = r"""
- name: Read the member's status
  etcdops.etcd.etcdctl:
    argv: [endpoint, status, -w, json]
    endpoints: [https://127.0.0.1:2379]
    cacert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/client.crt
    key: /etc/etcd/pki/client.key
    password: "{{ etcd_root_password }}"
  register: status

- name: Save a snapshot as etcd's root user
  etcdops.etcd.etcdctl:
    argv: [snapshot, save, /var/lib/etcdops/snapshots/etcd.db]
    user: root
    password: "{{ etcd_root_password }}"

- name: Every call of a block with the same access
  module_defaults:
    etcdops.etcd.etcdctl:
      endpoints: [https://127.0.0.1:2379]
      cacert: /etc/etcd/pki/ca.crt
      password: "{{ etcd_root_password }}"
  block:
    - name: Hand leadership to another member
      etcdops.etcd.etcdctl:
        argv: [move-leader, 8e9e05c52164694d]
"""

RETURN = r"""
rc:
  description: etcdctl's exit code.
  returned: when etcdctl ran
  type: int
  sample: 0
stdout:
  description: etcdctl's standard output.
  returned: when etcdctl ran
  type: str
stderr:
  description: etcdctl's standard error.
  returned: when etcdctl ran
  type: str
json:
  description: The standard output parsed, when O(argv) asks for C(-w json) and etcdctl printed JSON.
  returned: when O(argv) has C(-w json)
  type: raw
  sample: [{"Endpoint": "http://127.0.0.1:2379", "Status": {"leader": 10276657743932975437}}]
cmd:
  description: The command that ran (no credentials in it).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import forget_inherited_settings
from ansible_collections.etcdops.etcd.plugins.module_utils.etcdctl import (
    auth_refusal, is_read_only, parse_json, wants_json)
from ansible_collections.etcdops.etcd.plugins.module_utils.member_switch import ClientAccess


def main():
    module = AnsibleModule(
        argument_spec=dict(
            argv=dict(type="list", elements="str", required=True),
            endpoints=dict(type="list", elements="str", default=["http://127.0.0.1:2379"]),
            cacert=dict(type="path"),
            cert=dict(type="path"),
            key=dict(type="path", no_log=False),
            user=dict(type="str", default="root"),
            password=dict(type="str", default="", no_log=True),
            etcdctl=dict(type="path", default="etcdctl"),
            dial_timeout=dict(type="float"),
            command_timeout=dict(type="float"),
        ),
        required_together=[("cert", "key")],
        supports_check_mode=True,
    )
    params = module.params
    if not params["argv"]:
        module.fail_json(msg="argv is empty: give the subcommand and its arguments, e.g. [endpoint, health]")
    etcdctl = params["etcdctl"]
    if os.sep not in etcdctl:
        etcdctl = module.get_bin_path(etcdctl, required=True)
    cmd = [etcdctl]
    for flag, seconds in (("--dial-timeout", params["dial_timeout"]), ("--command-timeout", params["command_timeout"])):
        if seconds:
            cmd.append("%s=%gs" % (flag, seconds))
    cmd += params["argv"]
    read_only = is_read_only(params["argv"])
    if module.check_mode and not read_only:
        module.exit_json(changed=True, cmd=cmd, msg="not run in check mode: %s changes etcd or the host"
                         % " ".join(params["argv"][:2]))

    forget_inherited_settings()
    password = params["password"] or None
    access = ClientAccess(etcdctl, ",".join(params["endpoints"]), params["cacert"], params["cert"], params["key"],
                          params["user"] if password else None, password)
    rc, stdout, stderr = module.run_command(cmd, environ_update=access.settings, check_rc=False)
    result = dict(changed=not read_only, rc=rc, stdout=stdout, stderr=stderr, cmd=cmd)
    if wants_json(params["argv"]):
        result["json"] = parse_json(stdout)
    if rc != 0:
        refusal = auth_refusal(stdout + stderr, params["user"], bool(password))
        failure = "etcdctl %s failed (rc %d): %s" % (" ".join(params["argv"]), rc, (stderr or stdout).strip())
        module.fail_json(msg=refusal or failure, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
