# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A read-only reader of bbolt files (etcd's member/snap/db), after bbolt's page.go, db.go and bucket.go.

Opens the file read-only, maps it read-only and takes no lock, so etcd never
waits on it.  Integers of the format are in the writer's native byte order
(big-endian on s390x), found from the meta page's magic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import mmap
import os
import struct

MAGIC = 0xED0CDAED
VERSION = 2
BRANCH, LEAF, META, FREELIST = 0x01, 0x02, 0x04, 0x10
BUCKET_LEAF_FLAG = 0x01
PAGE_HEADER = 16
ELEMENT = 16
FNV_OFFSET, FNV_PRIME = 0xcbf29ce484222325, 0x100000001b3


class FormatError(Exception):
    """The file is not what it should be; the message names the file and the offset."""

    def __init__(self, path, offset, problem):
        super(FormatError, self).__init__("%s: %s at offset %d" % (path, problem, offset))
        self.path, self.offset, self.problem = path, offset, problem


def fnv1a64(data):
    value = FNV_OFFSET
    for byte in bytearray(data):
        value = ((value ^ byte) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return value


class BoltFile:
    """``with BoltFile(path) as db: db.get(b"meta", b"term")``."""

    def __init__(self, path):
        self.path = path
        fd = os.open(path, os.O_RDONLY)
        try:
            self.size = os.fstat(fd).st_size
            if self.size < 2 * PAGE_HEADER + 64:
                raise FormatError(path, self.size, "file too short for a bbolt meta page (%d bytes)" % self.size)
            self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self.order, self.page_size, self.root, self.txid = self._read_meta()

    def close(self):
        self._map.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- meta -----------------------------------------------------------

    def _meta_at(self, offset):
        """(order, page_size, root, txid) of a valid meta page at ``offset``, else a reason string."""
        if offset + PAGE_HEADER + 64 > self.size:
            return "meta page beyond the end of the file"
        raw = self._map[offset + PAGE_HEADER:offset + PAGE_HEADER + 64]
        for order in ("<", ">"):
            magic, version, page_size = struct.unpack(order + "III", raw[:12])
            if magic != MAGIC:
                continue
            if version != VERSION:
                return "unsupported bbolt version %d" % version
            root, = struct.unpack(order + "Q", raw[16:24])
            txid, checksum = struct.unpack(order + "QQ", raw[48:64])
            if fnv1a64(raw[:56]) != checksum:
                return "meta checksum mismatch"
            return order, page_size, root, txid
        return "bad magic (not a bbolt file)"

    def _read_meta(self):
        first = self._meta_at(0)
        candidates = [first] if isinstance(first, tuple) else []
        page_size = first[1] if candidates else None
        # Meta 1 sits one page later; with meta 0 broken bbolt probes 1 KiB << i.
        for size in ([page_size] if page_size else [1024 << i for i in range(7)]):
            second = self._meta_at(size)
            if isinstance(second, tuple) and second[1] == size:
                candidates.append(second)
                break
        if not candidates:
            raise FormatError(self.path, 0, "no valid meta page (%s)" % first)
        order, page_size, root, txid = max(candidates, key=lambda meta: meta[3])
        return order, page_size, root, txid

    # --- pages ----------------------------------------------------------

    def _header(self, pgid):
        offset = pgid * self.page_size
        if offset + PAGE_HEADER > self.size:
            raise FormatError(self.path, offset, "page %d lies beyond the end of the file (truncated?)" % pgid)
        page_id, flags, count, _overflow = struct.unpack(self.order + "QHHI", self._map[offset:offset + PAGE_HEADER])
        if page_id != pgid:
            raise FormatError(self.path, offset, "page %d says it is page %d (corrupt)" % (pgid, page_id))
        return offset, flags, count

    def _elements(self, buf, base, flags, count, where):
        """Yield (key, value, leaf flags) of a leaf, or (key, child pgid, None) of a branch."""
        order = self.order
        for i in range(count):
            elem = base + PAGE_HEADER + i * ELEMENT
            if elem + ELEMENT > len(buf):
                raise FormatError(self.path, where + elem - base, "page element beyond the data (truncated?)")
            if flags & LEAF:
                leaf_flags, pos, ksize, vsize = struct.unpack(order + "IIII", buf[elem:elem + ELEMENT])
                start = elem + pos
                if start + ksize + vsize > len(buf):
                    raise FormatError(self.path, where + elem - base, "leaf entry beyond the data (truncated?)")
                yield buf[start:start + ksize], buf[start + ksize:start + ksize + vsize], leaf_flags
            else:
                pos, ksize, child = struct.unpack(order + "IIQ", buf[elem:elem + ELEMENT])
                yield buf[elem + pos:elem + pos + ksize], child, None

    def _walk(self, pgid, depth=0):
        if depth > 64:
            raise FormatError(self.path, pgid * self.page_size, "page tree deeper than 64 levels (a cycle?)")
        offset, flags, count = self._header(pgid)
        if not flags & (BRANCH | LEAF):
            raise FormatError(self.path, offset, "page %d has flags 0x%x, expected a branch or leaf" % (pgid, flags))
        for key, value, leaf_flags in self._elements(self._map, offset, flags, count, offset):
            if flags & LEAF:
                yield key, value, leaf_flags
            else:
                yield from self._walk(value, depth + 1)

    def _bucket_items(self, header_value, where):
        """Items of a bucket given its value (a 16-byte header, and the page itself when inline)."""
        if len(header_value) < 16:
            raise FormatError(self.path, where, "bucket header shorter than 16 bytes")
        root, = struct.unpack(self.order + "Q", header_value[:8])
        if root:
            return self._walk(root)
        inline = header_value[16:]
        if len(inline) < PAGE_HEADER:
            return iter(())
        _pid, flags, count, _overflow = struct.unpack(self.order + "QHHI", inline[:PAGE_HEADER])
        return self._elements(inline, 0, flags, count, where)

    # --- buckets --------------------------------------------------------

    def items(self, bucket):
        """(key, value) of a top-level bucket, in key order; an absent bucket has none."""
        for key, value, flags in self._walk(self.root):
            if flags & BUCKET_LEAF_FLAG and key == bucket:
                return [(k, v) for k, v, f in self._bucket_items(value, self.root * self.page_size)
                        if not f & BUCKET_LEAF_FLAG]
        return []

    def get(self, bucket, key):
        for k, value in self.items(bucket):
            if k == key:
                return value
        return None

    def count(self, bucket):
        """Number of entries of a bucket (walks every leaf page: proportional to the bucket's size)."""
        for key, value, flags in self._walk(self.root):
            if flags & BUCKET_LEAF_FLAG and key == bucket:
                return sum(1 for _item in self._bucket_items(value, self.root * self.page_size))
        return 0
