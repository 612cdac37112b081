"""Fixtures on real etcd binaries (see helpers.py)."""

import pytest

from helpers import BIN_ROOT, build_data_dir, copy_tree, etcd_version


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
