"""3.4 -> 3.5 with auth on, on real three-member clusters on loopback: why the hop cannot roll (a user added through
a 3.5 member has another password on the 3.4 members, for good), and that the together hop the rolling role makes
instead (every member stopped before any starts 3.5) keeps users, keys, revisions and leases."""

import subprocess

import pytest

from etcd_sample import read_state, write_sample_data
from helpers import etcd_version
from test_rolling_rollback import Cluster

ROOT = "root:root-secret"


class AsUser:
    """A member's etcdctl calls as one etcd user (``--user``), for etcd_sample's readers."""

    def __init__(self, member, user):
        self.member, self.user = member, user

    def ctl(self, *args, **kwargs):
        return self.member.ctl("--user", self.user, *args, **kwargs)

    def ctl_json(self, *args):
        return self.member.ctl_json("--user", self.user, *args)


def authenticates(member, user):
    """True when etcd accepts the user's password (permission denied means it did: the user has no role)."""
    got = member.ctl("--user", user, "get", "/nothing", check=False)
    assert got.returncode == 0 or "permission denied" in got.stderr or "authentication failed" in got.stderr, got.stderr
    return got.returncode == 0 or "permission denied" in got.stderr


@pytest.fixture
def auth_cluster_34(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        for name in cluster.names:
            cluster.start(name, "3.4.23")
        for member in cluster.members.values():
            member.wait_ready(60)
        first = cluster.members["m0"]
        marks = write_sample_data(first)
        first.ctl("user", "add", ROOT)
        first.ctl("auth", "enable")
        yield cluster, marks
    finally:
        cluster.stop_all()


def test_a_user_added_through_a_35_member_gets_another_password_on_the_34_members(auth_cluster_34):
    cluster = auth_cluster_34[0]
    v35 = etcd_version(">=3.5.26 <3.6.0")
    cluster.members["m2"].stop()
    on_35 = cluster.start("m2", v35)
    on_35.wait_ready(60)
    on_35.ctl("--user", ROOT, "user", "add", "alice:alice-secret")
    on_35.ctl("--user", ROOT, "put", "/after-user-add", "applied")  # every member has applied the user add
    for member in cluster.members.values():
        assert member.ctl("--user", ROOT, "get", "/after-user-add", "--print-value-only").stdout.strip() == "applied"
    assert authenticates(on_35, "alice:alice-secret")
    for name in ("m0", "m1"):
        assert not authenticates(cluster.members[name], "alice:alice-secret"), name


def test_every_member_switched_together_keeps_users_keys_revisions_and_leases(auth_cluster_34):
    cluster, marks = auth_cluster_34
    v35 = etcd_version(">=3.5.26 <3.6.0")
    first = cluster.members["m0"]
    # Added on 3.4 after the last snapshot: the 3.5 members replay these entries from the WAL.
    first.ctl("--user", ROOT, "user", "add", "alice:alice-secret")
    changed = subprocess.run([first.tools.path("etcdctl"), "--endpoints", first.client_url, "--user", ROOT,
                              "user", "passwd", "alice", "--interactive=false"], input="alice-changed\n",
                             env={"ETCDCTL_API": "3"}, capture_output=True, text=True, timeout=30, check=False)
    assert changed.returncode == 0, changed.stderr
    before = read_state(AsUser(first, ROOT), marks)

    for member in list(cluster.members.values()):
        member.stop()
    switched = {name: cluster.start(name, v35) for name in cluster.names}
    for member in switched.values():
        member.wait_ready(60, cluster_version="3.5.0")

    for name, member in switched.items():
        assert AsUser(member, ROOT).ctl_json("endpoint", "status")[0]["Status"]["version"] == v35
        assert read_state(AsUser(member, ROOT), marks) == before, name
        assert authenticates(member, "alice:alice-changed"), name
        assert not authenticates(member, "alice:alice-secret"), name
    revisions = {member.ctl_json("--user", ROOT, "auth", "status")["authRevision"] for member in switched.values()}
    assert len(revisions) == 1
