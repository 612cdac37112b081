"""The module run by Ansible itself on localhost (ansible-playbook and ad-hoc), on real etcd."""

import json
import os
import subprocess
import sys
from pathlib import Path

from etcd_sample import free_port
from helpers import BIN_ROOT, ROOT, etcd_version, state_on

import demo  # the demo's playbook runner (tools/ is on pytest.ini's pythonpath)

ANSIBLE_ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
                   ANSIBLE_STDOUT_CALLBACK="minimal", ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_DEPRECATION_WARNINGS="false")


def adhoc(data_dir, target, *flags):
    args = "data_dir=%s target_version=%s bin_dir=%s client_port=%d listen_peer_urls=http://127.0.0.1:%d" % (
        data_dir, target, BIN_ROOT, free_port(), free_port())
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "etcdops.etcd.etcd_migrate",
                           "-a", args, "-e", "ansible_python_interpreter=%s" % sys.executable] + list(flags),
                          env=ANSIBLE_ENV, capture_output=True, text=True, check=False, timeout=600)
    return proc, json.loads(proc.stdout[proc.stdout.index("=> {") + 3:proc.stdout.rindex("}") + 1])


def test_playbook_plans_migrates_and_is_idempotent(data_dir_from, tmp_path):
    version, data_dir, marks, before = data_dir_from("3.4.23")
    target = etcd_version("3.7")
    proc = demo.run_playbook(data_dir, target, extra_env={"ANSIBLE_DEPRECATION_WARNINGS": "false"})
    assert "-%s/etcd3" % version in proc.stdout and "+%s/etcd3" % target in proc.stdout  # the diff
    assert "upgrade %s -> %s" % (etcd_version("3.6"), target) in proc.stdout
    assert "changed=2" in proc.stdout and "failed=0" in proc.stdout
    after, info, _header = state_on(target, data_dir, tmp_path, marks)
    assert after == before and info["storage"] == "%s.0" % target.rsplit(".", 1)[0]


def test_adhoc_check_mode_returns_the_plan_and_changes_nothing(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    before = sorted(p.name for p in data_dir.rglob("*")), (data_dir / "version.txt").read_text()
    proc, result = adhoc(data_dir, etcd_version("3.6"), "--check", "--diff")
    assert proc.returncode == 0 and result["changed"] is True
    assert [p["to_version"] for p in result["plan"]] == [etcd_version("3.5"), etcd_version("3.6")]
    assert result["previous"]["version"] == version and result["steps"] == []
    assert (sorted(p.name for p in data_dir.rglob("*")), (data_dir / "version.txt").read_text()) == before


def test_async_poll_runs_a_migration_in_the_background_to_its_result(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    target = etcd_version("3.5")
    proc, result = adhoc(data_dir, target, "-B", "600", "-P", "1")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert result["ansible_job_id"] and result["finished"] == 1 and result["changed"] is True
    assert [(s["from"], s["to"]) for s in result["steps"]] == [(version, target)] and result["backup"]
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target


def test_adhoc_failure_names_the_problem_and_leaves_data_alone(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    proc, result = adhoc(data_dir, "3.2.0")
    assert proc.returncode != 0 and "localhost | FAILED!" in proc.stdout
    assert "more than one minor below" in result["msg"] and "migrate to 3.3 first" in result["msg"]
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % version


def test_rolling_preflight_filter_runs_in_ansible_and_lists_blockers():
    # As the pre-flight reads them live (a member unread would get a snapshot hop first).
    ready = {minor: {"ready": True, "blockers": []} for minor in ("3.6", "3.7")}
    members = [{"host": "a", "id": 1, "leader": 2, "version": "3.5.35", "healthy": True, "db_size": 10, "free_bytes": 99,
                "ready_for_next": ready},
               {"host": "b", "id": 2, "leader": 2, "version": "3.5.35", "healthy": False, "db_size": 10, "free_bytes": 99,
                "ready_for_next": ready}]
    expression = "{{ members | etcdops.etcd.etcd_rolling_preflight('3.6.16', ['3.5.35', '3.6.16']) }}"
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "ansible.builtin.debug",
                           "-a", "msg=%s" % expression, "-e", json.dumps({"members": members}),
                           "-e", "ansible_python_interpreter=%s" % sys.executable],
                          env=ANSIBLE_ENV, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout[proc.stdout.index("=> {") + 3:proc.stdout.rindex("}") + 1])["msg"]
    assert result["order"] == ["a", "b"]
    assert [(h["action"], h["version"], h["check_v2store"]) for h in result["hops"]] == [("upgrade", "3.6.16", True)]
    assert result["errors"] == ["b is not healthy: fix it (etcdctl endpoint health) before a rolling change"]
