# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A read-only reader of etcd's WAL segments (member/wal/*.wal), after server/storage/wal.

Frames: an 8-byte little-endian length (pad in the top byte), the walpb.Record,
zero padding.  Records chain a CRC-32C over their data; a crc record opens
each segment with the running CRC of the previous one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import struct

from .bbolt import FormatError
from .protowire import WireError, crc32c, message

METADATA, ENTRY, STATE, CRC, SNAPSHOT = 1, 2, 3, 4, 5
ENTRY_NORMAL, ENTRY_CONF_CHANGE, ENTRY_CONF_CHANGE_V2 = 0, 1, 2
CONF_ADD_LEARNER = 3
V2_METHODS = (b"PUT", b"POST", b"DELETE", b"QGET", b"SYNC", b"GET", b"HEAD")
# InternalRaftRequest fields that tell which etcd wrote an entry.
# Entries bigger than this are client data (puts, txns); their payload is not kept.
SMALL_ENTRY = 64 * 1024
INTERNAL_FIELDS = {2: "v2", 11: "lease_checkpoint", 1013: "auth_status", 1300: "cluster_version_set",
                   1301: "cluster_member_attr_set", 1302: "downgrade_info_set", 9900: "downgrade_version_test"}
SEGMENT = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")


def segments(wal_dir):
    names = sorted(n for n in os.listdir(wal_dir) if SEGMENT.match(n))
    return [os.path.join(wal_dir, n) for n in names]


def _first(msg, number, default=0):
    return msg.get(number, [default])[0]


def read_records(path):
    """Yield (type, data, offset) of a segment, checking the CRC chain; stops at the zero length.

    Reads one frame at a time, so memory stays at the size of the largest record.
    """
    crc, pos = None, 0
    with open(path, "rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return
            length_field, = struct.unpack("<Q", head)
            if length_field == 0:
                return
            size, pad = length_field & 0x00FFFFFFFFFFFFFF, 0
            if length_field >> 63:
                pad = (length_field >> 56) & 0x7
            if pos + 8 + size + pad > file_size:  # checked before reading: a corrupt length must not allocate
                raise FormatError(path, pos, "record of %d bytes runs past the end (truncated?)" % size)
            body = handle.read(size + pad)
            try:
                record = message(memoryview(body)[:size])
            except WireError as exc:
                raise FormatError(path, pos, "undecodable record (%s)" % exc)
            rtype, rcrc, data = _first(record, 1), _first(record, 2), _first(record, 3, b"")
            if rtype == CRC:
                crc = rcrc  # a segment's first record: the running CRC of the previous segment
            else:
                crc = crc32c(data, crc or 0)
                if rcrc != crc:
                    raise FormatError(path, pos, "CRC mismatch (record 0x%08x, computed 0x%08x): corrupt"
                                      % (rcrc, crc))
            yield rtype, data, pos
            pos += 8 + size + pad


def describe_entry(data):
    """What a normal entry's payload is: ('v2', method, path, value) or ('internal', [field names], detail)."""
    try:
        msg = message(data)
    except WireError:
        return ("unknown", None, None, None)
    method = _first(msg, 2, None)
    if isinstance(method, bytes) and method in V2_METHODS:
        return ("v2", method.decode(), _first(msg, 3, b"").decode("utf-8", "replace"),
                _first(msg, 4, b"").decode("utf-8", "replace"))
    names = sorted(INTERNAL_FIELDS[n] for n in msg if n in INTERNAL_FIELDS)
    detail = None
    if 1300 in msg:
        detail = _first(message(msg[1300][0]), 1, b"").decode()
    elif 2 in msg:  # a v2 request wrapped in an InternalRaftRequest
        inner = message(msg[2][0])
        return ("v2", _first(inner, 2, b"").decode(), _first(inner, 3, b"").decode("utf-8", "replace"),
                _first(inner, 4, b"").decode("utf-8", "replace"))
    return ("internal", names, detail, None)


class WalInfo:
    """What the retained WAL says: IDs, the last HardState, snapshot records and committed entries."""

    def __init__(self, wal_dir):
        self.dir = wal_dir
        self.node_id = self.cluster_id = None
        self.term = self.commit = 0
        self.snapshots = []  # (index, term, has conf_state)
        self.entries = {}  # index -> (term, type, data); later entries with the same index win
        files = segments(wal_dir)
        if not files:
            raise FormatError(wal_dir, 0, "no WAL segment")
        for path in files:  # each segment's own crc record starts its chain
            for rtype, data, offset in read_records(path):
                self._record(path, rtype, data, offset)

    def _record(self, path, rtype, data, offset):
        try:
            msg = message(data)
        except WireError as exc:
            raise FormatError(path, offset, "undecodable %d record (%s)" % (rtype, exc))
        if rtype == METADATA:
            self.node_id, self.cluster_id = _first(msg, 1), _first(msg, 2)
        elif rtype == STATE:
            self.term, self.commit = _first(msg, 1) or self.term, _first(msg, 3) or self.commit
        elif rtype == SNAPSHOT:
            self.snapshots.append((_first(msg, 1), _first(msg, 2), 3 in msg))
        elif rtype == ENTRY:
            index = _first(msg, 3)
            for later in [i for i in self.entries if i >= index]:
                del self.entries[later]  # a new leader overwrote the uncommitted tail
            payload = _first(msg, 4, b"")
            self.entries[index] = (_first(msg, 2), _first(msg, 1),
                                   bytes(payload) if len(payload) <= SMALL_ENTRY else None)

    def committed(self):
        """(index, term, type, data) of the committed entries, in order."""
        return [(i,) + self.entries[i] for i in sorted(self.entries) if i <= self.commit]

    def last_snapshot_index(self):
        return max([s[0] for s in self.snapshots] or [0])
