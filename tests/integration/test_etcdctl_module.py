"""etcdops.etcd.etcdctl run by ansible-playbook (-vvv) on a real two-member cluster with auth enabled, on loopback.

One cluster per version for the module; one playbook run holds every call, while a thread reads every process's
command line for the password."""

import json
import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from etcd_sample import free_port
from helpers import BIN_ROOT, ROOT, etcd_version

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files: [secrets.yml]
  module_defaults:
    etcdops.etcd.etcdctl:
      etcdctl: {etcdctl}
      endpoints: {endpoints}
      password: "{{{{ etcd_root_password }}}}"
  tasks:
    - name: Save a snapshot as root
      etcdops.etcd.etcdctl:
        argv: [snapshot, save, {snapshot}]
        endpoints: [{first}]
      register: snapshot

    - name: Hash every member's keys as root
      etcdops.etcd.etcdctl:
        argv: [endpoint, hashkv, --cluster, -w, json]
      register: hashkv

    - name: Read who leads
      etcdops.etcd.etcdctl:
        argv: [endpoint, status, --cluster, -w, json]
      register: status

    - name: Hand leadership to the other member as root
      etcdops.etcd.etcdctl:
        argv: [move-leader, "{{{{ '%x' | format(follower) }}}}"]
      vars:
        follower: >-
          {{{{ status.json | map(attribute='Status') | rejectattr('header.member_id', 'equalto', status.json[0].Status.leader)
             | map(attribute='header.member_id') | first }}}}
      register: move

    - name: Hold a lock for a few seconds (a slow call whose process list is watched)
      etcdops.etcd.etcdctl:
        argv: [lock, auth-test, sleep, "{slow}"]
      register: slow

    - name: Read a key without a user
      etcdops.etcd.etcdctl:
        argv: [get, any]
        password: ""
      register: no_user
      ignore_errors: true

    - name: Save a snapshot with a wrong password
      etcdops.etcd.etcdctl:
        argv: [snapshot, save, {snapshot}.wrong]
        endpoints: [{first}]
        password: not-the-password
      register: wrong_password
      ignore_errors: true

    - name: Save a snapshot as a user without the root role
      etcdops.etcd.etcdctl:
        argv: [snapshot, save, {snapshot}.app]
        endpoints: [{first}]
        user: app
        password: "{{{{ app_password }}}}"
      register: not_root
      ignore_errors: true

    - name: A snapshot in check mode is not taken
      etcdops.etcd.etcdctl:
        argv: [snapshot, save, {snapshot}.check]
        endpoints: [{first}]
      check_mode: true
      register: check_write

    - name: A status read in check mode runs
      etcdops.etcd.etcdctl:
        argv: [endpoint, status, -w, json]
      check_mode: true
      register: check_read

    - name: Keep every result
      ansible.builtin.copy:
        content: "{{{{ dict(names | zip(names | map('extract', vars))) | to_json }}}}"
        dest: {results}
        mode: "0600"
      vars:
        names: [snapshot, hashkv, status, move, slow, no_user, wrong_password, not_root, check_write, check_read]
"""


def run_playbook(playbook, etcdctl_dir=None):
    """ansible-playbook -vvv on localhost, from a controller environment that would send etcdctl elsewhere as
    someone else, were it inherited; ``etcdctl_dir`` first in PATH (where the binaries role links etcdctl)."""
    path = os.pathsep.join(([str(etcdctl_dir)] if etcdctl_dir else []) + [os.environ["PATH"]])
    env = dict(os.environ, PATH=path, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ETCDCTL_ENDPOINTS="http://127.0.0.1:%d" % free_port(), ETCDCTL_USER="app",
               ETCDCTL_PASSWORD="wrong", ETCDCTL_COMMAND_TIMEOUT="1ns")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-vvv", "-i", "localhost,", "-c",
                           "local", "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
                          cwd=playbook.parent, env=env, capture_output=True, text=True, timeout=600, check=False)


class AuthCluster:
    """Two members with auth enabled: root (root role) and app (read-write on every key, no root role)."""

    def __init__(self, version, base):
        self.version = version
        self.password, self.app_password = secrets.token_hex(12), secrets.token_hex(12)
        names = ["a", "b"]
        peers = {n: "http://127.0.0.1:%d" % free_port() for n in names}
        self.members = [Member(Toolset(str(BIN_ROOT), version), str(base / n), str(base / ("%s.log" % n)), name=n,
                               client_port=free_port(), listen_peer_urls=peers[n],
                               initial_cluster=",".join("%s=%s" % (m, peers[m]) for m in names),
                               initial_cluster_token="auth-test") for n in names]

    def __enter__(self):
        for member in self.members:
            member.start()
        for member in self.members:
            member.wait_ready(60)
        first = self.members[0]
        for args in (["user", "add", "root:" + self.password], ["role", "add", "root"],
                     ["user", "grant-role", "root", "root"], ["user", "add", "app:" + self.app_password],
                     ["role", "add", "rw"], ["role", "grant-permission", "rw", "readwrite", "", "--from-key"],
                     ["user", "grant-role", "app", "rw"], ["auth", "enable"]):
            first.ctl(*args)
        return self

    def __exit__(self, *exc):
        for member in self.members:
            member.stop()

    @property
    def endpoints(self):
        return [m.client_url for m in self.members]


@pytest.fixture(scope="module", params=["3.5", "3.7"])
def auth_run(request, tmp_path_factory):
    """One playbook run (-vvv) against a fresh auth-enabled cluster; the password's sightings in the process list."""
    version = etcd_version(request.param)
    base = tmp_path_factory.mktemp("auth-%s" % version)
    with AuthCluster(version, base) as cluster:
        (base / "secrets.yml").write_text(json.dumps({"etcd_root_password": cluster.password,
                                                      "app_password": cluster.app_password}))
        playbook = base / "play.yml"
        playbook.write_text(PLAYBOOK.format(etcdctl=BIN_ROOT / version / "etcdctl", endpoints=json.dumps(cluster.endpoints),
                                            first=cluster.endpoints[0],
                                            snapshot=base / "snap.db", results=base / "results.json", slow=3))
        seen, lock_holders, done = [], [], threading.Event()

        def watch_process_list():
            while not done.is_set():
                for pid in os.listdir("/proc"):
                    try:
                        cmdline = Path("/proc", pid, "cmdline").read_bytes().decode("utf-8", "replace")
                    except OSError:
                        continue
                    if cluster.password in cmdline:
                        seen.append(cmdline)
                    if "auth-test" in cmdline and "lock" in cmdline:
                        lock_holders.append(cmdline)
                done.wait(0.05)

        watcher = threading.Thread(target=watch_process_list)
        watcher.start()
        try:
            proc = run_playbook(playbook)
        finally:
            done.set()
            watcher.join()
        results = (base / "results.json").read_text() if (base / "results.json").exists() else "{}"
        yield {"cluster": cluster, "proc": proc, "results": json.loads(results), "raw_results": results,
               "seen": seen, "lock_holders": lock_holders, "base": base}


def test_root_calls_succeed_despite_an_inherited_etcdctl_environment(auth_run):
    proc, results = auth_run["proc"], auth_run["results"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert results["snapshot"]["rc"] == 0 and (auth_run["base"] / "snap.db").stat().st_size > 0
    hashes = {h["HashKV"]["hash"] for h in results["hashkv"]["json"]}
    assert len(results["hashkv"]["json"]) == 2 and len(hashes) == 1
    assert results["move"]["rc"] == 0 and "Leadership transferred" in results["move"]["stdout"]
    statuses = [s["Status"] for s in results["status"]["json"]]
    follower = [s["header"]["member_id"] for s in statuses if s["header"]["member_id"] != s["leader"]][0]
    assert results["move"]["stdout"].strip().endswith("to %x" % follower)


def test_calls_without_root_fail_naming_the_role_variables(auth_run):
    results = auth_run["results"]
    assert results["no_user"]["failed"] and "user name is empty" in results["no_user"]["stderr"]
    assert "etcd_root_password" in results["no_user"]["msg"]
    assert results["wrong_password"]["failed"]
    assert "etcd_root_password" in results["wrong_password"]["msg"]
    assert "is not that user's password" in results["wrong_password"]["msg"]
    assert results["not_root"]["failed"] and "permission denied" in results["not_root"]["stderr"]
    assert "etcd_root_user" in results["not_root"]["msg"] and "root role" in results["not_root"]["msg"]
    assert not (auth_run["base"] / "snap.db.app").exists()


def test_check_mode_runs_reads_only(auth_run):
    results = auth_run["results"]
    assert results["check_write"]["changed"] and "rc" not in results["check_write"]
    assert not (auth_run["base"] / "snap.db.check").exists()
    assert results["check_read"]["rc"] == 0 and results["check_read"]["changed"] is False
    assert results["check_read"]["json"][0]["Status"]["version"] == auth_run["cluster"].version


def test_the_password_shows_nowhere(auth_run):
    proc, password = auth_run["proc"], auth_run["cluster"].password
    assert auth_run["lock_holders"], "the slow call was not seen running: the process list was not watched"
    assert auth_run["seen"] == []
    assert password not in proc.stdout and password not in proc.stderr
    assert "ESTABLISH LOCAL CONNECTION" in proc.stdout and "AnsiballZ_etcdctl.py" in proc.stdout  # -vvv indeed
    assert password not in auth_run["raw_results"]
    assert auth_run["cluster"].app_password not in proc.stdout + proc.stderr + auth_run["raw_results"]


BACKUP_PLAY = """
- hosts: localhost
  gather_facts: false
  vars_files: [secrets.yml]
  vars:
    etcd_bin_dir: {bin_dir}
    etcd_client_port: {port}
    etcd_backup_dir: {backups}
    etcd_name: a
    etcd_tls: false  # a plain-HTTP member, said explicitly (TLS is the server role's default)
  tasks:
    - name: The backup role's save, as backup.yml runs it
      ansible.builtin.include_role:
        name: etcdops.etcd.backup
        tasks_from: save
"""


def test_the_backup_role_saves_a_snapshot_of_an_auth_cluster_as_root(auth_run):
    cluster, base = auth_run["cluster"], auth_run["base"]
    playbook = base / "backup.yml"
    playbook.write_text(BACKUP_PLAY.format(bin_dir=BIN_ROOT, port=int(cluster.endpoints[0].rsplit(":", 1)[1]),
                                           backups=base / "backups"))
    proc = run_playbook(playbook, BIN_ROOT / cluster.version)
    assert proc.returncode == 0, proc.stdout[-4000:]
    saved = list((base / "backups").glob("etcd-%s-etcd-a-*.db" % cluster.version))
    assert len(saved) == 1 and saved[0].stat().st_size > 0
    assert cluster.password not in proc.stdout + proc.stderr
