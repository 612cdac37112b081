"""The collection tarball as a user gets it: built from a used work tree, installed with ansible-galaxy, run."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from helpers import BIN_ROOT, ROOT, etcd_version

ANSIBLE_BIN = Path(sys.executable).parent
# What the artifact ships: the collection, its docs and the sanity ignore files.
SHIPPED = ("bin/", "meta/", "playbooks/", "plugins/", "roles/", "changelogs/changelog.yaml",
           "changelogs/config.yaml", "tests/sanity/", "README.md", "LICENSE", "CHANGELOG.md")
# What runs and tests leave behind in a work tree; none of it may ship.
JUNK = (".pytest_cache/v/cache/nodeids", ".hypothesis/examples/x", ".ansible/tmp/x", ".cache/x", ".venv/x",
        "extensions/molecule/default/.molecule/state.yml", "plugins/module_utils/__pycache__/plan.cpython-311.pyc",
        "tests/output/junit.xml", "roles/server/.pytest_cache/x", "playbooks/.ansible/tmp/x", "etcdops-etcd-0.0.9.tar.gz",
        "changelogs/fragments/unreleased.yml", "changelogs/.plugin-cache.yaml")

PLAY = """
- name: The installed collection in check mode
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Read the data dir
      etcdops.etcd.etcd_datadir_info:
        data_dir: "{{ data_dir }}"
      register: info
    - name: Plan
      etcdops.etcd.etcd_migrate:
        data_dir: "{{ data_dir }}"
        target_version: "{{ target }}"
        bin_dir: "{{ bin_dir }}"
      check_mode: true
      register: plan
    - name: Check
      ansible.builtin.assert:
        that:
          - info.version == '3.4'
          - plan is changed and plan.plan | map(attribute='to_version') | list == [target]
          - (source | etcdops.etcd.etcd_migration_versions(target, [target])) == [target]
"""


def tracked_files():
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [name for name in listed if name and (ROOT / name).is_file()]


def used_work_tree(tmp_path):
    """A copy of the checkout with the leftovers of tests, lint and molecule runs."""
    tree = tmp_path / "etcd"
    for name in tracked_files():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    for name in JUNK:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("left by a run\n")
    return tree


def test_the_built_tarball_ships_the_collection_only_installs_and_runs(data_dir_from, tmp_path):
    tree = used_work_tree(tmp_path)
    subprocess.run([str(ANSIBLE_BIN / "ansible-galaxy"), "collection", "build", "--output-path",
                    str(tmp_path / "dist"), str(tree)], check=True, capture_output=True)
    tarball = next((tmp_path / "dist").glob("etcdops-etcd-*.tar.gz"))
    with tarfile.open(tarball) as archive:
        shipped = sorted(m.name for m in archive.getmembers() if m.isfile())
    expected = sorted(["MANIFEST.json", "FILES.json"] + [name for name in tracked_files()
                                                         if name.startswith(SHIPPED)])
    assert shipped == expected
    assert {"LICENSE", "bin/etcd-migrate", "tests/sanity/ignore-2.18.txt", "tests/sanity/ignore-2.21.txt",
            "roles/server/tasks/main.yml", "playbooks/site.yml"} <= set(shipped)

    installed = tmp_path / "installed"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    # The pki role's dependency, already installed (Galaxy is unreachable here): the install must resolve it.
    shutil.copytree(ROOT / ".cache" / "collections" / "ansible_collections" / "community" / "crypto",
                    installed / "ansible_collections" / "community" / "crypto")
    subprocess.run([str(ANSIBLE_BIN / "ansible-galaxy"), "collection", "install", "-p", str(installed),
                    str(tarball)], env=env, check=True, capture_output=True)
    version, data_dir, _marks, _state = data_dir_from("3.4.23")
    before = sorted(str(p) for p in data_dir.rglob("*"))
    (tmp_path / "play.yml").write_text(PLAY)
    target = etcd_version("3.5")
    variables = {"data_dir": str(data_dir), "target": target, "source": version, "bin_dir": str(BIN_ROOT),
                 "ansible_python_interpreter": sys.executable}
    proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-vvv", str(tmp_path / "play.yml"),
                           "-e", json.dumps(variables)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    module_file = installed / "ansible_collections" / "etcdops" / "etcd" / "plugins" / "modules" / "etcd_migrate.py"
    assert "Using module file %s" % module_file in proc.stdout
    assert str(ROOT / "plugins") not in proc.stdout and "/.cache/collections/" not in proc.stdout
    assert sorted(str(p) for p in data_dir.rglob("*")) == before
