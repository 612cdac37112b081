#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: etcd_member_switch
short_description: Switch a running cluster's etcd member to another version in one action, with a way back
version_added: "0.1.0"
description:
  - For a member of a running multi-member cluster, whose data the cluster carries across versions (the rolling
    role's hops). The caller prepares everything with the member running (binaries installed, the next
    configuration and unit rendered beside the live ones); this module then swaps the prepared files in
    atomically and has systemd read a changed unit while the member still serves (a running service keeps its
    process), stops the service, records the version in C(version.txt), starts the service and polls the member's
    health every O(poll_interval) seconds. The member is out for etcd's stop and start plus milliseconds;
    RV(downtime) says how long, RV(phases) where it went.
  - With O(check_command) the files go in after the check, with the member stopped - systemd never holds the new
    unit before the check has passed, so no restart in between (by systemd, or by hand after a killed run) starts
    the new version unchecked.
  - The steps around the outage are part of the same call, so a rolling hop costs one round trip per member - a
    leader hands leadership to O(transfer_leadership_to) before the stop, and with O(max_lag) the call returns once
    the member has caught up with the leader's log.
  - If the check, the start or the health wait fails, the same action puts the previous files and C(version.txt)
    back, starts the previous version, waits until it is healthy and fails with the reason (RV(rolled_back) true).
    A failure before the stop (the swap, systemd's reload, the stop itself) puts the previous files back with the
    member still serving.
  - It never writes the data itself (only C(version.txt) and, during the switch, C(version.txt.previous)).
    Everything that can fail without an outage is checked before the stop (prepared files present and on the live
    files' filesystem, live files present and not symlinked, owner and group known), and the copies for the way
    back are made then too. Any error after the stop takes the way back.
  - A crash at any moment leaves every file whole (old or new), each live file's previous content in
    C(<dest>.previous) and the marker C(<data_dir>/version.txt.previous) (JSON - the target version, the version to
    go back to, and the direction, forward until the way back begins). The next run with the same options reads
    which side of the swap the crash was on and converges (RV(recovered)) - before the swap (every live file equal
    to its copy, C(version.txt) unchanged) it switches normally; during or after the swap (some live files equal to
    their prepared files, or C(version.txt) new, the others still prepared) it finishes forward, with the check
    while C(version.txt) still names the previous version, and the way back if the new version is not healthy; once the way back had begun it goes back and
    fails. A file with the same content before and after decides nothing. What it cannot decide (a live file equal
    to neither its copy nor its prepared file, C(version.txt) naming another version, a marker for another target,
    copies without the marker) is refused, naming the files and the fix.
  - A single member (no cluster to carry the data) changes version with M(etcdops.etcd.etcd_migrate) instead.
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be switched; stops nothing.
  diff_mode:
    support: full
    details: The version recorded in C(version.txt), before and after.
options:
  service:
    description: The systemd unit that runs the member.
    type: str
    default: etcd
  data_dir:
    description: The member's C(--data-dir), where C(version.txt) records the version.
    type: path
    required: true
  version:
    description: The version the member switches to (recorded as C(VERSION/etcd3)).
    type: str
    required: true
  files:
    description:
      - Prepared files moved over the live ones, in order. A C(dest) ending in C(.service) makes systemd reload.
      - Every O(files[].src) must exist (except in check mode), on the filesystem of its O(files[].dest), and no
        O(files[].dest) may be a symlink, or nothing is stopped.
    type: list
    elements: dict
    default: []
    suboptions:
      src:
        description: The prepared file (moved, so it is gone afterwards).
        type: path
        required: true
      dest:
        description: The live file it replaces.
        type: path
        required: true
  check_command:
    description:
      - A command run with the member stopped, before the new version starts (for example C(etcdutl check v2store)
        of the current version). A non-zero exit puts the member back on its version and fails with its output.
    type: list
    elements: str
    default: []
  check_advice:
    description: Added to the failure message when O(check_command) fails (what the operator should do).
    type: str
    default: ""
  etcdctl:
    description: The C(etcdctl) that checks the member's health (C(endpoint health), the v3 API).
    type: path
    default: etcdctl
  endpoint:
    description: The member's own client URL.
    type: str
    default: http://127.0.0.1:2379
  ca_file:
    description: CA bundle that verifies the member's client certificate (C(--cacert)).
    type: path
  cert_file:
    description: Client certificate for the health check (C(--cert)), when the member asks for one.
    type: path
  key_file:
    description: Key of O(cert_file).
    type: path
  user:
    description: etcd user for the health check, when auth is enabled.
    type: str
  password:
    description: Password of O(user).
    type: str
  transfer_leadership_to:
    description:
      - etcd's ID of another member of the cluster (decimal, as C(etcdctl member list -w json) gives it). When this
        member leads, leadership moves there (C(etcdctl move-leader)) before the stop, so the cluster elects nobody
        while the member is out. A member that does not answer its status then, or a move that fails, stops nothing.
    type: int
  max_lag:
    description:
      - After the member answers healthy, wait until its raft index is within this many entries of the leader's
        (C(etcdctl endpoint status --cluster)), so the next member stops only once this one holds the log. Not
        part of RV(downtime). Unset, no wait.
      - A member that does not catch up within O(timeout) fails the task; it keeps the new version (it serves).
    type: int
  timeout:
    description: Seconds the started member has to answer healthy before the previous version goes back.
    type: float
    default: 120
  poll_interval:
    description: Seconds between health checks.
    type: float
    default: 0.1
  owner:
    description: Owner of C(version.txt).
    type: str
  group:
    description: Group of C(version.txt).
    type: str
notes:
  - The previous version is the one C(version.txt) names; the caller keeps its binaries installed.
seealso:
  - module: etcdops.etcd.etcd_migrate
"""

EXAMPLES = r"""
- name: Render the next configuration beside the live one
  ansible.builtin.template:
    src: etcd.conf.yml.j2
    dest: /etc/etcd/etcd.conf.yml.next
    mode: "0640"

- name: Switch the member to 3.6.16
  etcdops.etcd.etcd_member_switch:
    data_dir: /var/lib/etcd
    version: 3.6.16
    files:
      - src: /etc/etcd/etcd.conf.yml.next
        dest: /etc/etcd/etcd.conf.yml
      - src: /etc/systemd/system/etcd.service.next
        dest: /etc/systemd/system/etcd.service
    check_command: [/opt/etcd/3.5.30/etcdutl, check, v2store, --data-dir, /var/lib/etcd]
    etcdctl: /opt/etcd/3.6.16/etcdctl
    endpoint: https://127.0.0.1:2379
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/client.crt
    key_file: /etc/etcd/pki/client.key
  register: switch

- name: Say how long the member was out
  ansible.builtin.debug:
    msg: "{{ switch.downtime }} s"
"""

RETURN = r"""
version:
  description: The version the member was switched to.
  returned: always
  type: str
  sample: 3.6.16
previous_version:
  description: The version C(version.txt) named before.
  returned: always
  type: str
  sample: 3.5.30
downtime:
  description: Seconds from the stop until the member answered healthy (the previous version's, after a way back).
  returned: when something was stopped
  type: float
  sample: 0.84
rolled_back:
  description: True when the switch failed and the previous version serves again.
  returned: always
  type: bool
phases:
  description:
    - Seconds from the stop at which each phase of the switch ended - C(stopped), C(recorded) (the check, when one
      runs, and C(version.txt)), C(started) (C(systemctl start) returned), C(healthy) - where the downtime goes.
  returned: when something was stopped
  type: dict
  sample: {"stopped": 0.21, "recorded": 0.23, "started": 0.41, "healthy": 0.72}
leadership_moved_to:
  description: The member leadership moved to before the stop (hexadecimal ID), when this member led.
  returned: when leadership moved
  type: str
  sample: 8e9e05c52164694d
caught_up_seconds:
  description: Seconds after the member answered healthy until it was within O(max_lag) entries of the leader.
  returned: when O(max_lag) is given and the switch succeeded
  type: float
check:
  description: The check command's exit code, output and seconds.
  returned: when O(check_command) ran
  type: dict
journal:
  description: The unit's last journal lines when the switch failed.
  returned: on failure
  type: list
  elements: str
recovered:
  description: What an interrupted switch had left and how this run converged from it (empty when nothing was left).
  returned: always
  type: str
  sample: "a switch to 3.6.16 was interrupted after swapping /etc/etcd/etcd.conf.yml: finished forward"
files:
  description: The live files the switch replaces.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import forget_inherited_settings
from ansible_collections.etcdops.etcd.plugins.module_utils.member_switch import (
    CONVERGING, REFUSE, ClientAccess, MemberSwitch, SwitchFailed)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service=dict(type="str", default="etcd"),
            data_dir=dict(type="path", required=True),
            version=dict(type="str", required=True),
            files=dict(type="list", elements="dict", default=[],
                       options=dict(src=dict(type="path", required=True), dest=dict(type="path", required=True))),
            check_command=dict(type="list", elements="str", default=[]),
            check_advice=dict(type="str", default=""),
            etcdctl=dict(type="path", default="etcdctl"),
            endpoint=dict(type="str", default="http://127.0.0.1:2379"),
            ca_file=dict(type="path"),
            cert_file=dict(type="path"),
            key_file=dict(type="path"),
            user=dict(type="str"),
            password=dict(type="str", no_log=True),
            transfer_leadership_to=dict(type="int"),
            max_lag=dict(type="int"),
            timeout=dict(type="float", default=120),
            poll_interval=dict(type="float", default=0.1),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        required_together=[("cert_file", "key_file")],
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["data_dir"]):
        module.fail_json(msg="data_dir %s is not a directory: point it at the member's --data-dir. Nothing was "
                             "stopped." % params["data_dir"])
    if params["max_lag"] is not None and params["max_lag"] < 0:
        module.fail_json(msg="max_lag must be 0 or more entries (got %s). Nothing was stopped." % params["max_lag"])
    if not 0.01 <= params["poll_interval"] <= 10 or params["timeout"] <= 0:
        module.fail_json(msg="poll_interval must be 0.01-10 s and timeout positive (got %s and %s)"
                         % (params["poll_interval"], params["timeout"]))
    etcdctl = params["etcdctl"]
    if os.sep not in etcdctl:
        etcdctl = module.get_bin_path(etcdctl, required=True)

    # An inherited ETCDCTL_* or ETCD_* must not redirect the health check or reach etcd.
    forget_inherited_settings()

    def run(argv, environ=None):
        return module.run_command(argv, environ_update=environ, check_rc=False)

    access = ClientAccess(etcdctl, params["endpoint"], params["ca_file"], params["cert_file"], params["key_file"],
                          params["user"], params["password"])
    switch = MemberSwitch(run, params["service"], params["data_dir"], params["version"], params["files"], access,
                          params["timeout"], params["poll_interval"], check_command=params["check_command"],
                          check_advice=params["check_advice"], owner=params["owner"], group=params["group"],
                          systemctl=module.get_bin_path("systemctl", required=True),
                          journalctl=module.get_bin_path("journalctl") or "journalctl",
                          leader_transferee=params["transfer_leadership_to"], max_lag=params["max_lag"])
    plan, found = switch.recovery()
    problems = switch.problems(check_mode=module.check_mode, plan=plan)
    if plan == REFUSE:
        problems.insert(0, found)
    if problems:
        module.fail_json(msg="Nothing was stopped: %s." % "; ".join(problems))
    recovered = "%s: %s" % (found, CONVERGING[plan][module.check_mode]) if plan else ""
    before = switch.previous_version()
    diff = dict(before={"version.txt": before}, after={"version.txt": params["version"] + "/etcd3"})
    if module.check_mode:
        module.exit_json(changed=True, version=params["version"], previous_version=before.split("/")[0],
                         files=[f["dest"] for f in params["files"]], rolled_back=False, diff=diff,
                         recovered=recovered)
    try:
        result = switch.switch(plan)
    except SwitchFailed as failure:
        module.fail_json(msg=str(failure), recovered=recovered, **failure.result)
    module.exit_json(changed=True, diff=diff, recovered=recovered, **result)


if __name__ == "__main__":
    main()
