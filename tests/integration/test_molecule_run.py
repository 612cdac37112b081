"""The molecule runner's closing lines: a failed scenario's last failed tasks, read from a real Ansible log."""

import os
import subprocess
import sys
from pathlib import Path

import molecule_run  # tools/ is on pytest.ini's pythonpath

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail and be ignored
      ansible.builtin.fail:
        msg: an ignored failure
      ignore_errors: true
    - name: Fail on every item and be ignored
      ansible.builtin.command: sh -c 'exit 1'
      loop: [a, b]
      ignore_errors: true
    - name: A block whose command fails
      block:
        - name: Run a command that fails, its reason in its output
          ansible.builtin.command: sh -c 'echo "the member did not answer" >&2; exit 3'
      rescue:
        - name: Fail on one item of a loop
          ansible.builtin.command: sh -c 'test {{ item }} = a || { echo "no {{ item }}" >&2; exit 4; }'
          loop: [a, b]
          ignore_errors: true
        - name: Reach a host that is not there
          ansible.builtin.ping:
          delegate_to: nohost.invalid
          vars:
            ansible_connection: ssh
          ignore_unreachable: true
        - name: Stop with the rescue's message, over two lines
          ansible.builtin.fail:
            msg: "Fix the member\\nand run again"
"""


def test_the_last_failures_are_named_with_their_reasons(tmp_path):
    playbook = tmp_path / "fails.yml"
    playbook.write_text(PLAYBOOK)
    log = tmp_path / "ansible.log"
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook),
                           "-e", "ansible_python_interpreter=%s" % sys.executable],
                          env=dict(os.environ, ANSIBLE_LOG_PATH=str(log), ANSIBLE_LOCALHOST_WARNING="false",
                                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false"),
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    logged = log.read_text()
    assert molecule_run.failed_tasks(logged, limit=10) == [
        "Run a command that fails, its reason in its output on localhost: non-zero return code | the member did not answer",
        "Stop with the rescue's message, over two lines on localhost: Fix the member and run again",
    ]
    # The same lines had they not been ignored: a loop's failed items, and a host out of reach.
    unignored = "\n".join(line for line in logged.splitlines() if not line.endswith("| ...ignoring"))
    failures = molecule_run.failed_tasks(unignored, limit=10)
    assert failures[0] == "Fail and be ignored on localhost: an ignored failure"
    assert failures[1:3] == ["Fail on every item and be ignored on localhost: non-zero return code"] * 2
    assert failures[4] == "Fail on one item of a loop on localhost: non-zero return code | no b"
    assert failures[5].startswith("Reach a host that is not there on localhost -> nohost.invalid: Task failed: ")
    assert molecule_run.failed_tasks(logged, limit=1) == [
        "Stop with the rescue's message, over two lines on localhost: Fix the member and run again"]


def test_molecules_verdict_is_read_from_its_framed_console():
    console = "\n".join([
        "  \x1b[2m\u2502\x1b[0m ok: [roll-1]",
        "\x1b[31mCRITICAL\x1b[0m Idempotence test failed because of the following tasks:",
        "\x1b[31mCRITICAL\x1b[0m * [roll-1] => etcdops.etcd.pki : Copy the files that differ",
        "",
        "INFO     rolling \u279c destroy: Executed: Successful",
    ])
    assert molecule_run.molecule_verdict(console) == [
        "CRITICAL Idempotence test failed because of the following tasks:",
        "CRITICAL * [roll-1] => etcdops.etcd.pki : Copy the files that differ",
        "INFO     rolling \u279c destroy: Executed: Successful"]
    assert molecule_run.molecule_verdict("INFO all good") == []
