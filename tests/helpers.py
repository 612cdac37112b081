"""Test helpers: real etcd binaries by requirement, real members, real data dirs."""

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import semver

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / ".cache" / "collections"))

import etcd_binaries  # noqa: E402
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset  # noqa: E402

BIN_ROOT = etcd_binaries.cache_root()
IN_CI = os.environ.get("CI") == "true"


def cached_versions():
    return sorted(semver.Version.parse(v) for v in etcd_binaries.load_manifest(BIN_ROOT)["versions"])


def etcd_version(spec):
    """The cached version a test needs, by requirement.

    ``"3.4.23"`` is exact, ``"3.6"`` the newest 3.6, ``">=3.5.26 <3.6.0"`` the
    newest matching every comparison.  Missing: a failure in CI, a loud skip
    elsewhere (run ``make etcd-binaries``).
    """
    parts = spec.split()
    if len(parts) == 1 and not parts[0][0] in "<>=!":
        pieces = parts[0].split(".")
        if len(pieces) == 3:
            parts = ["==" + parts[0]]
        else:
            parts = [">=%s.0" % parts[0], "<%s.%d.0" % (pieces[0], int(pieces[1]) + 1)]
    found = [v for v in cached_versions() if all(v.match(p) for p in parts)]
    if found:
        return str(max(found))
    message = "no cached etcd binary matches %r in %s: run `make etcd-binaries`" % (spec, BIN_ROOT)
    if IN_CI:
        pytest.fail(message)
    pytest.skip("SKIPPED LOUDLY: " + message)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_etcd(version, data_dir, log_dir, **settings):
    """A real single member on free loopback ports, always stopped by PID."""
    peer = "http://127.0.0.1:%d" % free_port()
    settings.setdefault("listen_peer_urls", peer)
    settings.setdefault("initial_advertise_peer_urls", peer)
    member = Member(Toolset(str(BIN_ROOT), version), str(data_dir), str(Path(log_dir) / ("etcd-%s.log" % version)),
                    client_port=free_port(), **settings)
    member.start()
    try:
        member.wait_ready(60)
        yield member
    finally:
        member.stop()


def write_sample_data(member, keys=20):
    """Keys, a key with several revisions, a compacted revision, a lease with attached keys."""
    for i in range(keys):
        member.ctl("put", "/sample/key-%03d" % i, "value-%d" % i)
    for i in range(4):
        member.ctl("put", "/sample/history", "revision-%d" % i)
    compact_at = int(member.ctl_json("get", "/sample/history")["header"]["revision"]) - 1
    member.ctl("compact", str(compact_at))
    lease = member.ctl("lease", "grant", "3600").stdout.split()[1]
    member.ctl("put", "--lease=%s" % lease, "/sample/leased-a", "a")
    member.ctl("put", "--lease=%s" % lease, "/sample/leased-b", "b")
    return {"compact_at": compact_at, "lease": lease}


def _text(b64):
    return base64.b64decode(b64).decode()


def read_state(member, marks):
    """Everything that must survive a migration, read back through the v3 API."""
    got = member.ctl_json("get", "", "--prefix")
    kvs = {_text(kv["key"]): (_text(kv.get("value", "")), kv["create_revision"], kv["mod_revision"],
                              kv.get("version"), kv.get("lease", 0)) for kv in got.get("kvs", [])}
    lease = member.ctl_json("lease", "timetolive", marks["lease"], "--keys")
    compacted = member.ctl("get", "/sample/history", "--rev=%d" % (marks["compact_at"] - 1), check=False)
    at_compaction = member.ctl("get", "/sample/history", "--rev=%d" % marks["compact_at"], "--print-value-only")
    return {
        "revision": got["header"]["revision"],
        "kvs": kvs,
        "lease": {"id": lease["id"], "granted": lease["granted-ttl"], "alive": lease["ttl"] > 0,
                  "keys": sorted(_text(k) for k in lease.get("keys") or [])},
        "below_compaction_refused": compacted.returncode != 0 and "compacted" in compacted.stderr,
        "at_compaction": at_compaction.stdout.strip(),
    }


def build_data_dir(version, data_dir, log_dir, keys=20, record_version=True):
    """A data dir written by real etcd ``version`` with sample data; returns (marks, state)."""
    with running_etcd(version, data_dir, log_dir) as member:
        marks = write_sample_data(member, keys)
        state = read_state(member, marks)
    if record_version:
        (Path(data_dir) / "version.txt").write_text("%s/etcd3" % version)
    return marks, state


def state_on(version, data_dir, log_dir, marks):
    with running_etcd(version, data_dir, log_dir) as member:
        info = member.version_info()
        return read_state(member, marks), info, member.status()["header"]


def copy_tree(src, dst):
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def dump_json(value):
    return json.dumps(value, indent=1, sort_keys=True)
