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
    - name: A block whose command fails
      block:
        - name: Run a command that fails, its reason in its output
          ansible.builtin.command: sh -c 'echo "the member did not answer" >&2; exit 3'
      rescue:
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
    assert molecule_run.failed_tasks(log.read_text()) == [
        "Run a command that fails, its reason in its output on localhost: non-zero return code | the member did not answer",
        "Stop with the rescue's message, over two lines on localhost: Fix the member and run again",
    ]
    assert molecule_run.failed_tasks(log.read_text(), limit=1) == [
        "Stop with the rescue's message, over two lines on localhost: Fix the member and run again"]
