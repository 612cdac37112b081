"""etcd2 (v2 store) data: conversion to etcd3 and back, on real etcd 3.3.25 and later."""

import pytest

from helpers import (assert_converted_from_etcd2, etcd_version, params, running_etcd, tree_digest, v2_keys,
                     v3_keys)

from ansible_collections.etcdops.etcd.plugins.module_utils.engine import migrate
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

V2_KEYS = {"/registry/pods/default/web-%d" % i: '{"spec": %d}' % i for i in range(10)}
V2_KEYS.update({"/registry/minions/node-a": "ready", "/top": "plain value with spaces & symbols=1"})
TTL_KEYS = {"/registry/events/default/event-%d" % i: "event %d" % i for i in range(5)}


@pytest.fixture
def v2_data_dir(tmp_path):
    """A data dir of etcd 3.3.25 holding v2 keys only, some with a TTL."""
    data_dir = tmp_path / "v2" / "data"
    with running_etcd("3.3.25", data_dir, tmp_path) as member:
        for key, value in V2_KEYS.items():
            member.v2("PUT", key, {"value": value})
        for key, value in TTL_KEYS.items():
            member.v2("PUT", key, {"value": value, "ttl": 600})
    (data_dir / "version.txt").write_text("3.3.25/etcd2")
    return data_dir


def test_etcd2_data_converts_to_etcd3_and_upgrades_with_ttl_keys_leased(v2_data_dir, tmp_path):
    target = etcd_version("3.5")
    result = migrate(params(v2_data_dir, target))
    assert [(s["action"], s["binary"]) for s in result["steps"]] == [
        ("convert-etcd2-to-etcd3", "3.3.25"), ("upgrade", "3.4.23"), ("upgrade", target)]
    assert (v2_data_dir / "version.txt").read_text() == "%s/etcd3" % target
    with running_etcd(target, v2_data_dir, tmp_path) as member:
        assert_converted_from_etcd2(member, V2_KEYS, TTL_KEYS)


def test_converted_data_goes_on_to_36_without_v2_content(v2_data_dir, tmp_path):
    target = etcd_version("3.6")
    migrate(params(v2_data_dir, target))
    with running_etcd(target, v2_data_dir, tmp_path) as member:
        assert {k: v for k, (v, _lease) in v3_keys(member).items()} == dict(V2_KEYS, **TTL_KEYS)


def test_etcd3_to_etcd2_and_back_keeps_every_key(data_dir_from, tmp_path):
    _version, data_dir, _marks, state = data_dir_from("3.4.23")
    to_v2 = migrate(params(data_dir, "3.4.23", target_storage="etcd2"))
    assert [s["action"] for s in to_v2["steps"]] == ["convert-etcd3-to-etcd2"]
    assert (data_dir / "version.txt").read_text() == "3.4.23/etcd2"
    with running_etcd("3.4.23", data_dir, tmp_path, extra_args=["--enable-v2=true"]) as member:
        served = v2_keys(member)
        assert v3_keys(member) == {}  # the keys live in the v2 store now
    assert {k: v for k, (v, _ttl) in served.items()} == {k: kv[0] for k, kv in state["kvs"].items()}
    leased = {k for k, kv in state["kvs"].items() if kv[4]}
    assert leased and all(0 < served[k][1] <= 3600 for k in leased)
    assert all(served[k][1] is None for k in set(served) - leased)

    back = migrate(params(data_dir, "3.4.23", target_storage="etcd3", ttl_keys_prefix=""))
    assert [s["action"] for s in back["steps"]] == ["convert-etcd2-to-etcd3"]
    with running_etcd("3.4.23", data_dir, tmp_path) as member:
        assert {k: v for k, (v, _lease) in v3_keys(member).items()} == {k: kv[0] for k, kv in state["kvs"].items()}


def test_impossible_etcd2_requests_are_refused_before_anything_changes(data_dir_from):
    _version, data_dir, _marks, _state = data_dir_from("3.5")
    digest = tree_digest(data_dir)
    with pytest.raises(MigrationError, match="has no v2 store"):
        migrate(params(data_dir, etcd_version("3.6"), target_storage="etcd2"))
    (data_dir / "version.txt").write_text("%s/etcd2" % _version)
    with pytest.raises(MigrationError, match="'etcdctl migrate' was removed in 3.5"):
        migrate(params(data_dir, etcd_version("3.6")))
    (data_dir / "version.txt").write_text("%s/etcd3" % _version)
    assert tree_digest(data_dir) == digest
