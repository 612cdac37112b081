# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The etcd2 (v2 store) conversions: into etcd3 with ``etcdctl migrate``, and etcd3 keys back into a v2 store.

Each runs on a StepRunner's seams (its data dir, its etcd binaries and options), as the other steps do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
from urllib.error import HTTPError

from .compat import v2_api_flags
from .versions import MigrationError, cluster_version_text


def convert_to_etcd3(steps, step):
    """etcdctl migrate (v2 store -> mvcc), keys under the TTL prefix leased, v2 user keys dropped.

    The v2 copy goes because 3.6 refuses to start on custom v2 content;
    the backup keeps the original.
    """
    version = step.binary
    wal_args = ["--wal-dir", steps.data_dir.wal_dir] if steps.data_dir.wal_dir else []
    steps.etcd.tools(version).run("etcdctl", ["migrate", "--data-dir", steps.data_dir.path] + wal_args,
                                  timeout=steps.options.timeout)
    ids = steps.data_ids()
    with steps.member(version, extra_args=list(steps.options.server_extra_args) + v2_api_flags(version)) as member:
        steps.wait_on(member, version, ids)
        prefix = steps.options.ttl_keys_prefix
        if prefix:
            ranged = member.v3("/kv/range", {"key": _b64(prefix), "range_end": _b64(_prefix_end(prefix))})
            if ranged.get("kvs"):
                lease = member.v3("/lease/grant", {"TTL": steps.options.ttl_keys_ttl})["ID"]
                for kv in ranged["kvs"]:
                    member.v3("/kv/put", {"key": kv["key"], "value": kv.get("value", ""), "lease": lease})
        for node in member.v2("GET", "/").get("node", {}).get("nodes") or []:
            member.v2("DELETE", node["key"], query={"recursive": "true"} if node.get("dir") else None)


def convert_to_etcd2(steps, step):
    """Every v3 key into a fresh v2-store data dir served by the target; leased keys get their TTL."""
    version = step.binary
    with steps.member(version) as member:
        steps.wait_on(member, version, steps.data_ids())
        _header, name, peer_urls, initial_cluster = steps.identity(member)
        kvs = member.v3("/kv/range", {"key": _b64("\0"), "range_end": _b64("\0")}).get("kvs") or []
        ttls = {}
        for kv in kvs:
            if kv.get("lease") and kv["lease"] not in ttls:
                ttls[kv["lease"]] = int(member.v3("/kv/lease/timetolive", {"ID": kv["lease"]}).get("TTL", 0))
    entries = [(_v2_path(kv), _v2_value(kv), ttls.get(kv.get("lease"))) for kv in kvs]
    built = os.path.join(steps.work_dir, "etcd2")
    with steps.member(version, data_dir=built, name=name, initial_advertise_peer_urls=peer_urls,
                      initial_cluster=initial_cluster,
                      extra_args=list(steps.options.server_extra_args) + v2_api_flags(version),
                      initial_cluster_token=steps.options.initial_cluster_token) as fresh:
        fresh.wait_ready(steps.options.timeout, cluster_version=cluster_version_text(version))
        for path, value, ttl in entries:
            try:
                fresh.v2("PUT", path, dict(value=value, **({"ttl": ttl} if ttl else {})))
            except HTTPError as exc:
                raise MigrationError("etcd %s refused the key %r in its v2 store (%s): the v2 store cannot hold "
                                     "it (a key that is also another key's directory, or not a clean path); "
                                     "keep etcd3 storage" % (version, path, exc))
        served = _v2_flatten(fresh.v2("GET", "/", query={"recursive": "true"}).get("node", {}))
    wanted = dict((path, value) for path, value, _ttl in entries)
    if served != wanted:
        raise MigrationError("the v2 data dir does not serve what the v3 data held (%d keys read, %d written)"
                             % (len(served), len(wanted)))
    steps.data_dir.replace_member(os.path.join(built, "member"))


def _b64(data):
    return base64.b64encode(data.encode("utf-8") if not isinstance(data, bytes) else data).decode("ascii")


def _prefix_end(prefix):
    """The first key after every key that starts with ``prefix``, as etcd's range_end wants it."""
    raw = bytearray(prefix.encode("utf-8"))
    while raw and raw[-1] == 0xFF:
        raw.pop()
    raw[-1] += 1
    return bytes(raw)


def _v2_path(kv):
    key = base64.b64decode(kv["key"]).decode("utf-8")
    return key if key.startswith("/") else "/" + key


def _v2_value(kv):
    raw = base64.b64decode(kv.get("value", ""))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MigrationError("the value of %r is not UTF-8 text (Kubernetes stores protobuf): the v2 store holds "
                             "text only; keep etcd3 storage" % _v2_path(kv))


def _v2_flatten(node, out=None):
    out = {} if out is None else out
    for child in node.get("nodes") or []:
        if child.get("dir"):
            _v2_flatten(child, out)
        else:
            out[child["key"]] = child.get("value", "")
    return out
