# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Which etcd version a data dir is for, worked out from its own files, with the evidence.

etcd records no binary version on disk: only the cluster version (bbolt
``cluster/clusterVersion``, WAL version entries, the v2 ``.snap``) and, from
3.6, the storage version.  Format features give lower bounds.  Keys an older
restore tool copied over are recognised as stale and ignored.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import struct

from .ondisk import v2snap
from .compat import CUSTOM_V2_CONTENT_REFUSED, V2_WAL_ALLOWED_AT_3_6, V2_WAL_ENTRIES_UNAPPLIED
from .ondisk.bbolt import BoltFile, FormatError
from .ondisk.protowire import WireError, message
from .ondisk.wal import CONF_ADD_LEARNER, ENTRY_CONF_CHANGE, ENTRY_NORMAL, WalInfo, describe_entry


def _minor(text):
    """'3.5.0' -> (3, 5); None for anything else."""
    try:
        parts = [int(p) for p in str(text).split(".")[:2]]
        return (parts[0], parts[1]) if len(parts) == 2 else None
    except ValueError:
        return None


def _text(pair):
    return "%d.%d" % pair if pair else None


def _be64(raw):
    return struct.unpack(">Q", raw)[0] if raw and len(raw) == 8 else None


class Evidence:
    def __init__(self):
        self.lines, self.bounds = [], []

    def note(self, text):
        self.lines.append(text)

    def bound(self, pair, why):
        self.bounds.append(pair)
        self.lines.append("%s => at least %s" % (why, _text(pair)))


def _layout(data_dir):
    member = os.path.join(data_dir, "member")
    if os.path.isdir(member):
        return "3.x" if os.path.exists(os.path.join(member, "snap", "db")) else "2.1-2.3"
    if os.path.isdir(os.path.join(data_dir, "wal")) and os.listdir(os.path.join(data_dir, "wal")):
        return "2.0"
    return "empty"


def _read_db(path, count_keys):
    with BoltFile(path) as db:
        meta = dict(db.items(b"meta"))
        cluster = dict(db.items(b"cluster"))
        members = [json.loads(v.decode()) for _k, v in db.items(b"members")]
        leases = db.items(b"lease")
        info = {
            "page_size": db.page_size, "txid": db.txid,
            "byte_order": "little-endian" if db.order == "<" else "big-endian",
            "cluster_version": cluster.get(b"clusterVersion", b"").decode() or None,
            "storage_version": meta.get(b"storageVersion", b"").decode() or None,
            "term": _be64(meta.get(b"term")),
            "conf_state": json.loads(meta[b"confState"].decode()) if b"confState" in meta else None,
            "consistent_index": _be64(meta.get(b"consistent_index")),
            "downgrade": json.loads(cluster[b"downgrade"].decode()) if b"downgrade" in cluster else None,
            "auth_revision": db.get(b"auth", b"authRevision") is not None,
            # One byte, 1 while auth is on: a rolling 3.4 -> 3.5 is unsupported then (auth WAL entries change).
            "auth_enabled": db.get(b"auth", b"authEnabled") == b"\x01",
            "members": members,
            "lease_count": len(leases),
            "lease_remaining_ttl": any(3 in message(v) for _k, v in leases),
            "key_revisions": db.count(b"key") if count_keys else None,
        }
    return info


def _wal_facts(wal_dir, ev):
    wal = WalInfo(wal_dir)
    facts = {"node_id": "%x" % wal.node_id if wal.node_id else None,
             "cluster_id": "%x" % wal.cluster_id if wal.cluster_id else None,
             "term": wal.term, "commit": wal.commit, "last_snapshot_index": wal.last_snapshot_index(),
             "snapshot_records": len(wal.snapshots), "version_entry": None, "v2_after_snapshot": [],
             "learner_added": False, "features": []}
    if any(has_conf for _i, _t, has_conf in wal.snapshots):
        ev.bound((3, 5), "a WAL snapshot record carries conf_state")
    last_version_index = 0
    decoded = []
    for index, _term, etype, data in wal.committed():
        if etype == ENTRY_CONF_CHANGE:
            try:
                if message(data).get(2, [0])[0] == CONF_ADD_LEARNER:
                    facts["learner_added"] = True
            except WireError:
                pass
            continue
        if etype != ENTRY_NORMAL or not data:
            continue
        kind = describe_entry(data)
        decoded.append((index, kind))
        if kind[0] == "v2" and kind[1] == "PUT" and kind[2] == "/0/version":
            facts["version_entry"], last_version_index = {"index": index, "version": kind[3], "via": "v2"}, index
        elif kind[0] == "internal" and "cluster_version_set" in kind[1]:
            facts["version_entry"], last_version_index = {"index": index, "version": kind[2], "via": "v3"}, index
    snap_index = facts["last_snapshot_index"]
    for index, kind in decoded:
        if kind[0] == "v2" and index > snap_index:
            facts["v2_after_snapshot"].append("%s %s" % (kind[1], kind[2]))
        if kind[0] == "internal" and index > last_version_index:
            facts["features"].extend(kind[1])
    facts["features"] = sorted(set(facts["features"]))
    if facts["learner_added"]:
        ev.bound((3, 4), "the WAL adds a learner")
    if "lease_checkpoint" in facts["features"]:
        ev.bound((3, 4), "the WAL holds lease checkpoints")
    if set(facts["features"]) & {"cluster_member_attr_set", "cluster_version_set", "downgrade_info_set"}:
        ev.bound((3, 6), "the WAL holds v3 membership entries, which only 3.6+ servers propose")
    return facts


def detect(data_dir, count_keys=False, wal_dir=None):
    """Everything the data dir tells about its version; raises FormatError on unreadable files.

    ``wal_dir`` is etcd's ``--wal-dir`` when the WAL is not in ``member/wal``.
    """
    ev = Evidence()
    result = {"layout": _layout(data_dir), "evidence": ev.lines}
    if result["layout"] == "empty":
        result.update(version=None, ambiguous=False)
        return result
    if result["layout"] != "3.x":
        result.update(version=None, ambiguous=True)
        ev.note("a v2-only (%s) layout: etcd 2 data, which this collection does not migrate" % result["layout"])
        return result
    member = os.path.join(data_dir, "member")
    db_path = os.path.join(member, "snap", "db")
    db = _read_db(db_path, count_keys)
    db["size"] = os.path.getsize(db_path)
    result["db"] = db
    wal_dir = wal_dir or os.path.join(member, "wal")
    wal = _wal_facts(wal_dir, ev) if os.path.isdir(wal_dir) else None
    result["wal"] = wal
    snap_path = v2snap.newest(os.path.join(member, "snap"))
    snap = v2snap.read(snap_path) if snap_path else None
    snap_root = (snap or {}).get("store", {}).get("Root")
    snap_version = (v2snap.child(snap_root, "0", "version") or {}).get("Value")
    # The v2 store's membership: etcdctl 3.4 and older's "snapshot restore" writes the new members here only.
    snap_members = sorted((v2snap.child(snap_root, "0", "members") or {}).get("Children") or {})
    result["snap"] = {"path": snap_path, "index": snap["index"], "version": snap_version, "members": snap_members,
                      "custom_v2_content": v2snap.has_custom_content(snap["store"])} if snap else None

    ev.bound((3, 0), "member/snap/db exists")
    if db["auth_revision"]:
        ev.bound((3, 1), "auth/authRevision exists")
    if db["lease_remaining_ttl"] or any(m.get("isLearner") for m in db["members"]):
        ev.bound((3, 4), "leases carry RemainingTTL or a member is a learner")

    # The effective cluster version: bbolt's, unless the WAL set a newer one after the last apply.
    cluster = _minor(db["cluster_version"])
    ev.note("bbolt cluster/clusterVersion = %s" % db["cluster_version"])
    version_entry = (wal or {}).get("version_entry")
    if version_entry:
        ev.note("the last committed WAL version entry (index %d, %s) = %s"
                % (version_entry["index"], version_entry["via"], version_entry["version"]))
        if version_entry["index"] > (db["consistent_index"] or 0) or cluster is None:
            cluster = _minor(version_entry["version"]) or cluster
    if result["snap"] and result["snap"]["version"]:
        ev.note("the newest .snap's /0/version = %s" % result["snap"]["version"])
        cluster = cluster or _minor(result["snap"]["version"])

    stale = []
    wal_term = (wal or {}).get("term") or 0
    if db["term"] is not None and wal is not None and db["term"] > wal_term:
        stale.append("meta/term %d is above the WAL's term %d (left by an older restore tool)" % (db["term"], wal_term))
    elif db["term"] is not None:
        ev.bound((3, 5), "meta/term is set")
    storage = _minor(db["storage_version"])
    if storage and cluster and storage > cluster and not (db["downgrade"] or {}).get("enabled"):
        stale.append("meta/storageVersion %s is above the cluster version %s" % (db["storage_version"], _text(cluster)))
        storage = None
    elif storage:
        ev.bound(storage, "meta/storageVersion = %s" % db["storage_version"])
    downgrade = db["downgrade"]
    result["downgrade_in_progress"] = False
    if downgrade and downgrade.get("enabled"):
        target = _minor(downgrade.get("target-version"))
        if cluster and target and target > cluster:
            stale.append("cluster/downgrade targets %s above the cluster version" % downgrade["target-version"])
        else:
            ev.bound((3, 5), "cluster/downgrade is set")
            result["downgrade_in_progress"] = bool(storage and target and storage > target)
            state = "is in progress" if result["downgrade_in_progress"] else "has reached its target"
            ev.note("a downgrade to %s was enabled and %s" % (downgrade.get("target-version"), state))
    elif downgrade:
        ev.bound((3, 5), "cluster/downgrade exists")
    result["stale_keys"] = stale

    bound = max(ev.bounds)
    result["cluster_version"] = _text(cluster)
    result["storage_version"] = db["storage_version"] if storage else None
    result["lower_bound"] = _text(bound)
    result["version"] = _text(max(cluster or bound, bound))
    result["ambiguous"] = cluster is None or bound > cluster
    if result["ambiguous"]:
        ev.note("the format shows %s but the cluster version is %s: a newer binary ran without settling"
                % (_text(bound), _text(cluster)))
    ids = [m for m in db["members"] if wal and wal["node_id"] and int(wal["node_id"], 16) == m.get("id")]
    result["member_id"] = (wal or {}).get("node_id")
    result["cluster_id"] = (wal or {}).get("cluster_id")
    result["member_name"] = ids[0].get("name") if ids else None
    result["ready_for_next"] = _readiness(result)
    return result


def _readiness(result):
    """Whether the next minor can start on this dir as it is, and why not."""
    wal, snap = result.get("wal") or {}, result.get("snap") or {}
    v2_tail = wal.get("v2_after_snapshot") or []
    refusing, unapplied = _text(CUSTOM_V2_CONTENT_REFUSED.since), _text(V2_WAL_ENTRIES_UNAPPLIED.since)
    blockers = {}
    if snap.get("custom_v2_content"):
        blockers.setdefault(refusing, []).append("the newest .snap holds custom v2 data")
    disallowed = [e for e in v2_tail if not (e.startswith("PUT ") and e[4:].startswith(V2_WAL_ALLOWED_AT_3_6))]
    if disallowed:
        blockers.setdefault(refusing, []).append("the WAL tail holds v2 requests %s refuses: %s"
                                                 % (refusing, ", ".join(sorted(set(disallowed)))))
    if v2_tail:
        blockers.setdefault(unapplied, []).append("the WAL tail after the last snapshot holds %d v2 entries"
                                                  % len(v2_tail))
    return {minor: {"ready": minor not in blockers, "blockers": blockers.get(minor, [])}
            for minor in (refusing, unapplied)}


def members(data_dir):
    """The members recorded in bbolt (empty when there is no db yet)."""
    db_path = os.path.join(data_dir, "member", "snap", "db")
    if not os.path.exists(db_path):
        return []
    with BoltFile(db_path) as db:
        return [json.loads(v.decode()) for _k, v in db.items(b"members")]


def safe_detect(data_dir, count_keys=False, wal_dir=None):
    """detect(), with unreadable files turned into a result that says so instead of a traceback."""
    try:
        return detect(data_dir, count_keys, wal_dir)
    except (FormatError, IOError, OSError, ValueError) as exc:
        return {"layout": _layout(data_dir), "version": None, "ambiguous": True, "error": str(exc),
                "evidence": ["unreadable: %s" % exc]}
