"""The binary cache and the local release mirror hold what they claim."""

import hashlib
import os
import subprocess
import sys
import tarfile
import urllib.request

import pytest

from helpers import BIN_ROOT, IN_CI, ROOT, etcd_binaries

MANIFEST = etcd_binaries.load_manifest(BIN_ROOT)["versions"]


def test_every_listed_source_is_cached():
    cached = {entry["key"] for entry in MANIFEST.values()}
    missing = [s["key"] for s in etcd_binaries.SOURCES if s["key"] not in cached]
    if missing and not IN_CI:
        pytest.skip("SKIPPED LOUDLY: not cached: %s (run `make etcd-binaries`)" % missing)
    assert missing == []


@pytest.mark.parametrize("version", sorted(MANIFEST))
def test_cached_binaries_report_their_version_and_match_the_manifest(version):
    entry = MANIFEST[version]
    for name, digest in entry["sha256"].items():
        assert etcd_binaries.sha256_file(BIN_ROOT / version / name) == digest, name
    line = subprocess.run([str(BIN_ROOT / version / "etcd"), "--version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]
    assert line == entry["version_line"] and line.endswith(" " + version)
    ctl = subprocess.run([str(BIN_ROOT / version / "etcdctl"), "version"], capture_output=True, text=True,
                         env=dict(os.environ, ETCDCTL_API="3"), check=True).stdout
    assert "etcdctl version: %s" % version in ctl
    if "etcdutl" in entry["sha256"]:
        utl = subprocess.run([str(BIN_ROOT / version / "etcdutl"), "version"], capture_output=True, text=True,
                             check=True).stdout
        assert "etcdutl version: %s" % version in utl


def build_mirror(tree):
    subprocess.run([sys.executable, str(ROOT / "tools" / "etcd_mirror.py"), "build", str(tree), "3.4.23"],
                   check=True, capture_output=True)


def test_an_archive_from_the_mirror_verifies_and_runs(release_mirror, tmp_path):
    mirror, version = release_mirror, "3.4.23"
    name = "etcd-v%s-linux-amd64.tar.gz" % version
    archive = tmp_path / name
    urllib.request.urlretrieve("%s/v%s/%s" % (mirror, version, name), archive)
    sums = urllib.request.urlopen("%s/v%s/SHA256SUMS" % (mirror, version)).read().decode()
    expected = dict(reversed(line.split()) for line in sums.splitlines())[name]
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == expected
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    etcd = tmp_path / "x" / ("etcd-v%s-linux-amd64" % version) / "etcd"
    out = subprocess.run([str(etcd), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == MANIFEST[version]["version_line"]


def test_the_mirror_is_reproducible(tmp_path):
    for tree in ("a", "b"):
        build_mirror(tmp_path / tree)
    sums = [(tmp_path / t / "v3.4.23" / "SHA256SUMS").read_text() for t in ("a", "b")]
    assert sums[0] == sums[1] and "etcd-v3.4.23-linux-amd64.tar.gz" in sums[0]
