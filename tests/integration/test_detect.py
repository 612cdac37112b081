"""Detection of a data dir's version from its own files, on dirs written by every real version."""

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, cached_versions, etcd_version, params, state_on, tree_digest

from ansible_collections.etcdops.etcd.plugins.module_utils.detect import detect, safe_detect
from ansible_collections.etcdops.etcd.plugins.module_utils.engine import migrate
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError


def minor_of(version):
    return version.rsplit(".", 1)[0]


@pytest.mark.parametrize("version", [str(v) for v in cached_versions()])
def test_detection_matches_the_writer_of_every_version(data_dir_from, tmp_path, version):
    version, data_dir, marks, state = data_dir_from(version)
    header = state_on(version, data_dir, tmp_path, marks)[2]
    digest = tree_digest(data_dir)
    found = detect(str(data_dir), count_keys=True)
    assert tree_digest(data_dir) == digest  # read-only
    assert (found["version"], found["cluster_version"], found["ambiguous"]) == (minor_of(version), minor_of(version),
                                                                                False), found["evidence"]
    expected_storage = minor_of(version) + ".0" if minor_of(version) >= "3.6" else None
    assert found["storage_version"] == expected_storage
    assert found["member_id"] == "%x" % header["member_id"] and found["cluster_id"] == "%x" % header["cluster_id"]
    assert found["db"]["key_revisions"] >= len(state["kvs"]) and found["db"]["lease_count"] == 1
    assert found["db"]["size"] == (data_dir / "member" / "snap" / "db").stat().st_size
    assert found["stale_keys"] == [] and not found["downgrade_in_progress"]


@pytest.mark.parametrize("source,target,stale", [
    ("3.4.23", "3.7", False),
    ("3.7", "3.6", False),
    ("3.6", "3.5", False),
    ("3.5", "3.4.23", True),
])
def test_detection_after_each_migration_path(data_dir_from, source, target, stale):
    _version, data_dir, _marks, _state = data_dir_from(source)
    target = etcd_version(target)
    migrate(params(data_dir, target))
    found = detect(str(data_dir))
    assert (found["version"], found["ambiguous"]) == (minor_of(target), False), found["evidence"]
    assert bool(found["stale_keys"]) == stale, found["stale_keys"]
    if minor_of(target) == "3.7":
        assert found["ready_for_next"]["3.7"]["ready"], found["ready_for_next"]


def test_engine_uses_detection_when_version_txt_is_missing(data_dir_from, tmp_path):
    version, data_dir, marks, state = data_dir_from("3.5")
    (data_dir / "version.txt").unlink()
    target = etcd_version("3.6")
    result = migrate(params(data_dir, target))
    assert result["detected"]["version"] == "3.5" and not result["detected"]["ambiguous"]
    assert any("meta/term" in line for line in result["detected"]["evidence"])
    assert result["previous"]["version"] == "3.5.0"
    assert [s["to"] for s in result["steps"]] == [version, target]  # newest 3.5 first, then the target
    after = state_on(target, data_dir, tmp_path, marks)[0]
    assert after == state


def test_engine_refuses_unsettled_evidence_unless_current_version_confirms(data_dir_from):
    _version, data_dir, _marks, _state = data_dir_from("3.4.23")
    (data_dir / "version.txt").unlink()
    (data_dir / "member" / "snap" / "db").unlink()  # WAL without db: a v2-only layout
    digest = tree_digest(data_dir)
    with pytest.raises(MigrationError, match="has a WAL but no member/snap/db: the data of etcd 2"):
        migrate(params(data_dir, etcd_version("3.5")))
    assert tree_digest(data_dir) == digest
    _version, data_dir, _marks, _state = data_dir_from("3.4.23")
    (data_dir / "version.txt").unlink()
    with pytest.raises(MigrationError, match="contradicts the data files"):
        migrate(params(data_dir, etcd_version("3.5"), current_version="3.3.25"), check_mode=True)
    confirmed = migrate(params(data_dir, etcd_version("3.5"), current_version="3.4.23"), check_mode=True)
    assert confirmed["previous"]["version"] == "3.4.23"


def flip(path, offset):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x40]))


def corrupt_db_metas(data_dir):
    db = data_dir / "member" / "snap" / "db"
    flip(db, 16 + 20)
    flip(db, 4096 + 16 + 20)
    return db


def truncate_db(data_dir):
    db = data_dir / "member" / "snap" / "db"
    os.truncate(db, 3 * 4096)
    return db


def _frames(wal):
    """(offset, size) of the first frames of a WAL segment."""
    raw, found, pos = Path(wal).read_bytes(), [], 0
    while len(found) < 4:
        length = int.from_bytes(raw[pos:pos + 8], "little")
        size, pad = length & 0x00FFFFFFFFFFFFFF, (length >> 56) & 0x7 if length >> 63 else 0
        found.append((pos, size))
        pos += 8 + size + pad
    return found


def flip_wal_record(data_dir):
    """A bit flipped in the data of the metadata record (the second frame; data is a record's last field)."""
    wal = sorted(glob.glob(str(data_dir / "member" / "wal" / "*.wal")))[-1]
    offset, size = _frames(wal)[1]
    flip(wal, offset + 8 + size - 1)
    return Path(wal)


def corrupt_wal_length(data_dir):
    """A length field turned huge: an error, not an allocation of that size."""
    wal = sorted(glob.glob(str(data_dir / "member" / "wal" / "*.wal")))[-1]
    offset, _size = _frames(wal)[2]
    flip(wal, offset + 5)
    return Path(wal)


def truncate_wal(data_dir):
    """The segment cut in the middle of its third record."""
    wal = sorted(glob.glob(str(data_dir / "member" / "wal" / "*.wal")))[-1]
    offset, size = _frames(wal)[2]
    os.truncate(wal, offset + 8 + size // 2)
    return Path(wal)


@pytest.mark.parametrize("damage,problem", [
    (corrupt_db_metas, "no valid meta page"),
    (truncate_db, "beyond the end of the file"),
    (flip_wal_record, "CRC mismatch"),
    (corrupt_wal_length, "runs past the end"),
    (truncate_wal, "truncated"),
])
def test_damaged_files_give_a_clear_error_naming_file_and_offset(data_dir_from, damage, problem):
    _version, data_dir, _marks, _state = data_dir_from("3.4.23")
    damaged = damage(data_dir)
    found = safe_detect(str(data_dir))
    assert found["ambiguous"] and problem in found["error"], found
    assert str(damaged) in found["error"] and "at offset" in found["error"]


def test_the_info_module_reports_and_fails_cleanly(data_dir_from):
    version, data_dir, _marks, _state = data_dir_from("3.6")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_STDOUT_CALLBACK="minimal", ANSIBLE_LOCALHOST_WARNING="false")
    command = [str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "etcdops.etcd.etcd_datadir_info",
               "-a", "data_dir=%s" % data_dir, "-e", "ansible_python_interpreter=%s" % sys.executable, "--check"]
    good = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    result = json.loads(good.stdout[good.stdout.index("=> {") + 3:])
    assert good.returncode == 0 and result["changed"] is False
    assert (result["version"], result["storage_version"]) == (minor_of(version), minor_of(version) + ".0")
    corrupt_db_metas(data_dir)
    bad = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "no valid meta page" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr
