# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A reader of etcd's v2-store snapshot files (member/snap/<term>-<index>.snap)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from .bbolt import FormatError
from .protowire import WireError, crc32c, message

SNAP = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")


def newest(snap_dir):
    """Path of the newest .snap (highest term, then index), or None."""
    names = sorted((n for n in os.listdir(snap_dir) if SNAP.match(n)), reverse=True) if os.path.isdir(snap_dir) else []
    return os.path.join(snap_dir, names[0]) if names else None


def read(path):
    """{"index", "term", "store"}: the v2 store as etcd serialised it, after checking the CRC."""
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        outer = message(raw)
        crc, data = outer.get(1, [0])[0], outer.get(2, [b""])[0]
        if not data:
            raise FormatError(path, 0, "empty snapshot")
        if crc32c(data) != crc:
            raise FormatError(path, 0, "CRC mismatch: corrupt snapshot")
        snapshot = message(data)
        meta = message(snapshot.get(2, [b""])[0])
        store = json.loads(snapshot.get(1, [b"{}"])[0].decode("utf-8"))
    except (WireError, ValueError) as exc:
        raise FormatError(path, 0, "undecodable snapshot (%s)" % exc)
    return {"index": meta.get(2, [0])[0], "term": meta.get(3, [0])[0], "store": store}


def child(node, *names):
    for name in names:
        node = ((node or {}).get("Children") or {}).get(name)
    return node


def has_custom_content(store):
    """True when the v2 store holds user keys (/1) or v2 auth data (/2 beyond empty users and roles)."""
    root = store.get("Root") or {}
    if (child(root, "1") or {}).get("Children"):
        return True
    auth = (child(root, "2") or {}).get("Children") or {}
    return any(name not in ("users", "roles") or node.get("Children") for name, node in auth.items())
