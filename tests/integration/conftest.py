"""Fixtures on real etcd binaries (see helpers.py)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import BIN_ROOT, ROOT, build_data_dir, copy_tree, etcd_version

MIRRORED = ("3.4.23", "3.5.35")


@pytest.fixture(scope="session")
def bin_dir():
    return str(BIN_ROOT)


@pytest.fixture(scope="session")
def written_by(tmp_path_factory):
    """``written_by("3.4")`` -> (pristine dir, marks, state) of a data dir that version wrote, built once."""
    built = {}

    def build(spec):
        version = etcd_version(spec)
        if version not in built:
            base = tmp_path_factory.mktemp("written-by-%s" % version)
            marks, state = build_data_dir(version, base / "data", base)
            built[version] = (version, base / "data", marks, state)
        return built[version]

    return build


@pytest.fixture
def data_dir_from(written_by, tmp_path):
    """A private copy of a data dir written by a version: (version, path, marks, state)."""

    copies = []

    def copy(spec):
        version, pristine, marks, state = written_by(spec)
        copies.append(spec)
        target = tmp_path / ("etcd-%d" % len(copies)) / "data"
        target.parent.mkdir(parents=True)
        copy_tree(pristine, target)
        return version, target, marks, state

    return copy


def served_mirror(tree):
    """Serve a mirror tree on a free loopback port: yields its URL, stops the server by PID."""
    port_file = tree / "port"
    server = subprocess.Popen([sys.executable, str(ROOT / "tools" / "etcd_mirror.py"), "serve", str(tree),
                               "--port-file", str(port_file)])
    try:
        for _attempt in range(100):
            if port_file.exists():
                break
            time.sleep(0.05)
        yield "http://127.0.0.1:%s" % port_file.read_text()
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(10)


def build_mirror(tree, versions, arch="amd64"):
    subprocess.run([sys.executable, str(ROOT / "tools" / "etcd_mirror.py"), "build", "--arch", arch, str(tree)]
                   + list(versions), check=True, capture_output=True)


@pytest.fixture(scope="session")
def release_mirror(tmp_path_factory):
    """The cache's 3.4.23 and 3.5.35 in etcd's release layout, served on a free loopback port."""
    tree = tmp_path_factory.mktemp("mirror")
    build_mirror(tree, [etcd_version(v) for v in MIRRORED])
    yield from served_mirror(tree)
