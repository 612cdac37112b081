"""What etcdops.etcd.etcdctl decides from its argv and etcd's answers (answers as real 3.4-3.7 gave them)."""

import os

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import forget_inherited_settings
from ansible_collections.etcdops.etcd.plugins.module_utils.etcdctl import (
    auth_refusal, is_read_only, parse_json, subcommand, wants_json)


@pytest.mark.parametrize("argv", [["endpoint", "status", "--cluster", "-w", "json"], ["endpoint", "hashkv"],
                                  ["member", "list"], ["get", "k"], ["downgrade", "validate", "3.6"],
                                  ["snapshot", "status", "/x.db"]])
def test_reads_run_in_check_mode(argv):
    assert is_read_only(argv)


@pytest.mark.parametrize("argv", [["snapshot", "save", "/x.db"], ["move-leader", "8e9e05c52164694d"],
                                  ["downgrade", "enable", "3.6"], ["lease", "grant", "60"], ["put", "k", "v"],
                                  ["--dial-timeout=1s", "endpoint", "health"]])
def test_anything_else_does_not(argv):
    assert not is_read_only(argv)


def test_the_subcommand_is_the_words_before_the_first_flag():
    assert subcommand(["endpoint", "status", "--cluster"]) == ("endpoint", "status")
    assert subcommand(["get", "-w", "json", "k"]) == ("get",)
    assert subcommand(["lease", "revoke", "694d"]) == ("lease", "revoke")


def test_json_is_parsed_only_when_asked_and_printed():
    assert wants_json(["member", "list", "-w", "json"]) and wants_json(["get", "k", "--write-out=json"])
    assert not wants_json(["member", "list", "-w", "table"])
    assert parse_json('[{"Endpoint": "e"}]') == [{"Endpoint": "e"}] and parse_json("Error: x") is None


@pytest.mark.parametrize("output,user,given,says", [
    ("Error: etcdserver: user name is empty", "root", False, "went without a user"),
    ("Error: etcdserver: authentication failed, invalid user ID or password", "root", True, "is not that user's"),
    ("Error: rpc error: code = PermissionDenied desc = etcdserver: permission denied", "app", True, "root role"),
    ("Error: rpc error: code = Unknown desc = auth: permission denied", "root", False, "without a user"),
])
def test_auth_refusals_name_the_role_variables(output, user, given, says):
    message = auth_refusal(output, user, given)
    assert says in message and "etcd_root_password" in message


def test_other_failures_are_not_auth_refusals():
    assert auth_refusal("Error: context deadline exceeded", "root", True) is None


def test_inherited_etcd_settings_are_forgotten():
    environ = {"ETCDCTL_ENDPOINTS": "http://elsewhere:2379", "ETCD_NAME": "x", "PATH": os.defpath}
    forget_inherited_settings(environ)
    assert environ == {"PATH": os.defpath}
