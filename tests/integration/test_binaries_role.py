"""The binaries role on this machine (localhost) against the local release mirror."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import etcd_binaries
from conftest import build_mirror, served_mirror
from etcd_sample import free_port
from helpers import IN_CI, ROOT

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: etcdops.etcd.binaries
"""


def run_role(tmp_path, mirror, flags=(), **extra):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    variables = {"etcd_binaries_version": "3.5.35", "etcd_binaries_versions": ["3.4.23", "3.5.35"],
                 "etcd_binaries_base_url": mirror, "etcd_binaries_prefix": str(tmp_path / "opt"),
                 "etcd_binaries_link_dir": str(tmp_path / "bin"), "etcd_binaries_host_cache": str(tmp_path / "cache"),
                 "ansible_python_interpreter": sys.executable}
    variables.update(extra)
    (tmp_path / "bin").mkdir(exist_ok=True)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(tmp_path / "play.yml"),
                           "-e", json.dumps(variables)] + list(flags), env=env, capture_output=True, text=True, check=False,
                          timeout=300)


def test_installs_side_by_side_links_the_selected_and_is_idempotent(tmp_path, release_mirror):
    mirror = release_mirror
    first = run_role(tmp_path, mirror)
    assert first.returncode == 0, first.stdout[-3000:]
    for version in ("3.4.23", "3.5.35"):
        out = subprocess.run([str(tmp_path / "opt" / version / "etcd"), "--version"], capture_output=True,
                             text=True, check=True).stdout
        assert out.splitlines()[0].endswith(version)
    assert os.readlink(tmp_path / "bin" / "etcdutl") == str(tmp_path / "opt" / "3.5.35" / "etcdutl")
    assert not (tmp_path / "opt" / "3.4.23" / "etcdutl").exists()
    second = run_role(tmp_path, mirror)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]
    older = run_role(tmp_path, mirror, etcd_binaries_version="3.4.23")
    assert older.returncode == 0 and os.readlink(tmp_path / "bin" / "etcd").endswith("/3.4.23/etcd")
    assert not (tmp_path / "bin" / "etcdutl").exists()  # 3.4 has no etcdutl


def test_another_installations_etcd_where_the_links_go_is_never_replaced(tmp_path, release_mirror):
    (tmp_path / "bin").mkdir()
    foreign = tmp_path / "bin" / "etcdctl"
    foreign.write_text("#!/bin/sh\necho kubespray's etcdctl\n")
    refused = run_role(tmp_path, release_mirror)
    assert refused.returncode != 0 and "%s is a file, not a link the collection made" % foreign in refused.stdout
    assert foreign.read_text() == "#!/bin/sh\necho kubespray's etcdctl\n"
    assert not (tmp_path / "bin" / "etcd").exists()
    # A tarball's link is another installation's too.
    foreign.unlink()
    foreign.symlink_to("/opt/etcd-v3.4.23-linux-amd64/etcdctl")
    linked = run_role(tmp_path, release_mirror)
    assert linked.returncode != 0 and "is a link to /opt/etcd-v3.4.23-linux-amd64/etcdctl, not a link" in linked.stdout
    assert os.readlink(str(foreign)) == "/opt/etcd-v3.4.23-linux-amd64/etcdctl"
    # No links at all: the versions are installed, the directory left as it was.
    unlinked = run_role(tmp_path, release_mirror, etcd_binaries_link_dir="")
    assert unlinked.returncode == 0, unlinked.stdout[-3000:]
    assert (tmp_path / "opt" / "3.5.35" / "etcd").is_file() and sorted(p.name for p in (tmp_path / "bin").iterdir()) == [
        "etcdctl"]


def test_a_checksum_mismatch_installs_nothing(tmp_path, release_mirror):
    result = run_role(tmp_path, release_mirror, etcd_binaries_checksums={"3.4.23/amd64": "sha256:" + "0" * 64})
    assert result.returncode != 0 and "checksum" in result.stdout.lower()
    assert not (tmp_path / "opt" / "3.4.23" / "etcd").exists()


def test_a_version_without_a_build_for_the_arch_fails_before_any_download(tmp_path, release_mirror):
    result = run_role(tmp_path, release_mirror, etcd_binaries_first_version={"amd64": "3.5.0"})
    assert result.returncode != 0 and "etcd 3.4.23 has no official linux-amd64 build" in result.stdout
    assert not (tmp_path / "cache").exists() and not (tmp_path / "opt").exists()


def test_check_mode_on_a_fresh_host_reports_the_installs_and_creates_nothing(tmp_path, release_mirror):
    result = run_role(tmp_path, release_mirror, flags=["--check"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert "would install etcd 3.4.23, 3.5.35" in result.stdout
    assert not (tmp_path / "cache").exists() and not (tmp_path / "opt").exists()
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == []


def seed_controller_cache(cache, mirror, version, sums_text=None):
    """A controller cache as an air-gapped user brings it: the archive and its release's SHA256SUMS."""
    cache.mkdir()
    archive = "etcd-v%s-linux-amd64.tar.gz" % version
    urllib.request.urlretrieve("%s/v%s/%s" % (mirror, version, archive), str(cache / archive))
    if sums_text is None:
        with urllib.request.urlopen("%s/v%s/SHA256SUMS" % (mirror, version)) as response:
            sums_text = response.read().decode()
    (cache / ("etcd-v%s-SHA256SUMS" % version)).write_text(sums_text)


def test_a_pre_seeded_controller_cache_installs_with_no_network(tmp_path, release_mirror):
    seed_controller_cache(tmp_path / "controller", release_mirror, "3.5.35")
    nowhere = "http://127.0.0.1:%d" % free_port()  # nothing listens: any fetch fails the run
    result = run_role(tmp_path, nowhere, etcd_binaries_versions=["3.5.35"], etcd_binaries_download_mode="controller",
                      etcd_binaries_controller_cache=str(tmp_path / "controller"))
    assert result.returncode == 0, result.stdout[-3000:]
    out = subprocess.run([str(tmp_path / "opt" / "3.5.35" / "etcd"), "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[0].endswith("3.5.35")


def test_a_cached_checksum_list_without_the_archive_fails_naming_the_file(tmp_path, release_mirror):
    seed_controller_cache(tmp_path / "controller", release_mirror, "3.5.35", sums_text="%s  other.tar.gz\n" % ("0" * 64))
    result = run_role(tmp_path, release_mirror, etcd_binaries_versions=["3.5.35"],
                      etcd_binaries_download_mode="controller", etcd_binaries_controller_cache=str(tmp_path / "controller"))
    assert result.returncode != 0
    assert "etcd-v3.5.35-SHA256SUMS has no line for etcd-v3.5.35-linux-amd64.tar.gz" in result.stdout
    assert not (tmp_path / "opt" / "3.5.35").exists()


# etcd's arch -> (Ansible's architecture fact on such a host, ELF e_machine of its binaries)
OTHER_ARCHES = {"arm64": ("aarch64", 183), "ppc64le": ("ppc64le", 21), "s390x": ("s390x", 22)}


@pytest.fixture(scope="module")
def every_arch_mirror(tmp_path_factory):
    """etcd's official builds for every other arch (cached), laid out as etcd's releases, served."""
    built = subprocess.run([sys.executable, str(ROOT / "tools" / "etcd_binaries.py"), "--other-arches"],
                           capture_output=True, text=True, check=False, timeout=3600)
    if built.returncode != 0:
        message = "fetching other arches' builds failed (PyPI or the apt mirror):\n%s%s" % (
            built.stdout[-3000:], built.stderr[-3000:])
        if IN_CI:
            pytest.fail(message)
        pytest.skip("SKIPPED LOUDLY: " + message)
    tree = tmp_path_factory.mktemp("every-arch-mirror")
    for arch in OTHER_ARCHES:
        build_mirror(tree, etcd_binaries.OTHER_ARCH_VERSIONS, arch)
    yield from served_mirror(tree)


def elf_machine(path):
    with open(path, "rb") as handle:
        header = handle.read(20)
    assert header[:4] == b"\x7fELF", "%s is not an ELF file" % path
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")  # s390x is big-endian


@pytest.mark.parametrize("arch", sorted(OTHER_ARCHES))
def test_another_arch_installs_its_own_build_and_each_binary_runs_there(tmp_path, every_arch_mirror, arch):
    """The arch fact of an arm64/ppc64le/s390x host picks that arch's archives; qemu-user runs what was installed."""
    fact, machine = OTHER_ARCHES[arch]
    versions = etcd_binaries.OTHER_ARCH_VERSIONS
    newest = versions[-1]
    result = run_role(tmp_path, every_arch_mirror, etcd_binaries_version=newest, etcd_binaries_versions=versions,
                      ansible_facts={"architecture": fact})
    assert result.returncode == 0, result.stdout[-3000:]
    qemu = etcd_binaries.qemu_runner(arch)
    for version in versions:
        installed = tmp_path / "opt" / version
        for name in etcd_binaries.BINARIES:
            assert elf_machine(installed / name) == machine, "%s/%s is not a %s build" % (version, name, arch)
        report = subprocess.run([*qemu, str(installed / "etcd"), "--version"], capture_output=True, text=True,
                                check=True, timeout=120).stdout
        assert "etcd Version: %s\n" % version in report and "Go OS/Arch: linux/%s" % arch in report, report
        tools = [subprocess.run([*qemu, str(installed / name), "version"], capture_output=True, text=True,
                                check=True, timeout=120).stdout for name in ("etcdctl", "etcdutl")]
        assert all("version: %s\n" % version in out for out in tools), tools  # "etcdctl version: 3.5.1"
    assert os.readlink(tmp_path / "bin" / "etcd") == str(tmp_path / "opt" / newest / "etcd")
    # The archives came from the arch's own names in the mirror, checked against the release's SHA256SUMS.
    cached = sorted(p.name for p in (tmp_path / "cache").glob("*.tar.gz"))
    assert cached == sorted("etcd-v%s-linux-%s.tar.gz" % (v, arch) for v in versions)
