"""The server role on this machine (localhost): --check on a fresh host, its tags, semver from pip."""

import json
import os
import pwd
import subprocess
import sys
import venv
from pathlib import Path

import yaml

from helpers import ROOT

ANSIBLE_BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"), ANSIBLE_NOCOLOR="1",
           ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: etcdops.etcd.server
  post_tasks:
    - name: The summary the playbooks print
      ansible.builtin.debug:
        msg: "summary={{ etcd_server_summary | to_json }}"
"""


def bare_python(path):
    """A Python without semver, as on a fresh host."""
    venv.create(path, with_pip=True)
    return str(path / "bin" / "python")


def test_check_mode_on_a_fresh_host_succeeds_and_changes_nothing(tmp_path, release_mirror):
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "bin").mkdir()
    variables = {"etcd_version": "3.5.35", "etcd_data_dir": str(tmp_path / "data"),
                 "etcd_config_dir": str(tmp_path / "etc"), "etcd_bin_dir": str(tmp_path / "opt"),
                 "etcd_binaries_link_dir": str(tmp_path / "bin"), "etcd_binaries_host_cache": str(tmp_path / "cache"),
                 "etcd_binaries_base_url": release_mirror, "etcd_user": "etcdops-check", "etcd_group": "etcdops-check",
                 "etcd_semver_source": "pip", "ansible_python_interpreter": bare_python(tmp_path / "python")}
    proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "--check", str(tmp_path / "play.yml"),
                           "-e", json.dumps(variables)], env=ENV, capture_output=True, text=True, check=False,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "would install etcd 3.5.35" in proc.stdout and "failed=0" in proc.stdout
    summary = json.loads(proc.stdout.split('"msg": "summary=', 1)[1].split('"\n', 1)[0].replace('\\"', '"'))
    assert summary == {"version_before": "none (no data yet)", "version_after": "3.5.35", "check_mode": True,
                       "steps": [], "planned": [], "backup": None, "downtime_seconds": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "play.yml", "python"]
    assert list((tmp_path / "bin").iterdir()) == []
    assert "etcdops-check" not in [entry.pw_name for entry in pwd.getpwall()]
    assert not Path("/etc/systemd/system/etcd.service").exists()


def test_each_phase_has_its_tag_and_the_data_version_is_always_read():
    def tasks(tag):
        proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "site.yml"), "-i",
                               str(ROOT / "playbooks" / "inventories" / "example" / "hosts.yml"), "--list-tasks",
                               "--tags", tag], env=ENV, capture_output=True, text=True, check=True)
        listed = [line.strip().split("\t")[0] for line in proc.stdout.splitlines() if line.startswith("      ")]
        # The closing summary play shows each member's etcd_server_summary whatever the tags.
        assert listed.pop() == "Show versions before and after, the migration's steps with seconds and the backup"
        assert listed[0].startswith("etcdops.etcd.server : Validating arguments against arg spec 'main'")
        for always in ("etcdops.etcd.server : Read the version the data is at",  # whatever the tags
                       "etcdops.etcd.server : Read the live configuration",
                       "etcdops.etcd.server : Decide the TLS files the member runs with and the collection's calls use",
                       # the restart handler needs it under --tags configure too
                       "etcdops.etcd.server : Read whether etcd runs",
                       "etcdops.etcd.server : Keep whether etcd ran before this run",
                       "etcdops.etcd.server : Note what this run did to the member"):
            listed.remove(always)
        return listed[1:]

    assert "etcdops.etcd.server : Create the data directory (0700, as etcd recommends)" in tasks("install")
    assert tasks("configure") == ["etcdops.etcd.server : Create the configuration directory",
                                  "etcdops.etcd.server : Write the etcd configuration",
                                  "etcdops.etcd.server : Restart a running member whose configuration changed beyond"
                                  " the bootstrap keys",
                                  "etcdops.etcd.server : Find the installed systemd unit",
                                  "etcdops.etcd.server : Write the systemd unit"]
    # migrate.yml is included (its rescue must not see main.yml's condition): listed as the include, whose
    # tasks get the tag through apply.
    assert "etcdops.etcd.server : Migrate a stopped single member's data with etcd_migrate" in tasks("migrate")
    include = [task for task in yaml.safe_load((ROOT / "roles" / "server" / "tasks" / "main.yml").read_text())
               if task.get("ansible.builtin.include_tasks", {}).get("file") == "migrate.yml"]
    assert include and include[0]["ansible.builtin.include_tasks"]["apply"]["tags"] == ["migrate"]
    assert "etcdops.etcd.server : Create the configuration directory" not in tasks("migrate")
    # The rolling switch (swap.yml) belongs to the migrate phase too, with the downtime it notes.
    assert ("etcdops.etcd.server : Note how long the member was down for a version switch (0 without one), where it"
            " went, and when it was back") in tasks("migrate")
    assert tasks("service") == ["etcdops.etcd.server : Apply configuration changes now",
                                "etcdops.etcd.server : Run etcd",
                                "etcdops.etcd.server : Wait until the member is healthy",
                                "etcdops.etcd.server : Wait until the joining member answers"]


def test_semver_from_pip_where_the_os_has_no_package(tmp_path):
    python = bare_python(tmp_path / "python")
    play = tmp_path / "play.yml"
    play.write_text("""
- hosts: localhost
  connection: local
  gather_facts: true
  tasks:
    - name: The server role's semver step
      ansible.builtin.include_role:
        name: etcdops.etcd.server
        tasks_from: semver
""")
    run = [str(ANSIBLE_BIN / "ansible-playbook"), str(play), "-e",
           json.dumps({"etcd_semver_source": "pip", "ansible_python_interpreter": python})]
    first = subprocess.run(run, env=ENV, capture_output=True, text=True, check=False, timeout=600)
    assert first.returncode == 0 and "changed=1" in first.stdout, first.stdout[-3000:]
    subprocess.run([python, "-c", "import semver"], check=True)
    second = subprocess.run(run, env=ENV, capture_output=True, text=True, check=False, timeout=600)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]
