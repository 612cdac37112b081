"""Sample data written to and read back from a real etcd member (tests and the demo share it)."""

import base64
import contextlib
import random
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".cache" / "collections"))

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset  # noqa: E402


# Ports handed out by this process: a port is given once, even after the member that used it stopped.
_HANDED_OUT = set()


def _ephemeral_range():
    try:
        low, high = (int(part) for part in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return low, high


def free_port():
    """A loopback port nobody listens on, below the kernel's range for outgoing connections: a port from that range
    (what binding port 0 gives) is free only until some process on a busy machine connects from it, which made a
    member's listen fail ("address already in use") between this check and its start."""
    low, _high = _ephemeral_range()
    floor = 20000 if low > 21000 else 1024
    for _attempt in range(500):
        port = random.randrange(floor, low)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_etcd(bin_root, version, data_dir, log_dir, **settings):
    """A real single member on free loopback ports, always stopped by PID."""
    peer = "http://127.0.0.1:%d" % free_port()
    settings.setdefault("listen_peer_urls", peer)
    settings.setdefault("initial_advertise_peer_urls", peer)
    settings.setdefault("client_port", free_port())
    member = Member(Toolset(str(bin_root), version), str(data_dir),
                    str(Path(log_dir) / ("etcd-%s.log" % version)), **settings)
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
    kvs = {_text(kv["key"]): [_text(kv.get("value", "")), kv["create_revision"], kv["mod_revision"],
                              kv.get("version"), kv.get("lease", 0)] for kv in got.get("kvs", [])}
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
