"""The steps of a member's switch around its outage, on a real three-member cluster on loopback: a leader hands
leadership over before it stops, and the call waits until the restarted member holds the leader's log.

The stop and start themselves need systemd (the molecule rolling scenario, and test_switch_crash.py's stand-in);
here the member stops and starts as a plain process between the two steps, and every answer is etcd's own.
"""

import contextlib
import os
import subprocess

import pytest

from etcd_sample import free_port
from helpers import BIN_ROOT, etcd_version
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset
from ansible_collections.etcdops.etcd.plugins.module_utils.member_switch import (
    ClientAccess, MemberSwitch, SwitchFailed, raft_lag)


def run(argv, environ=None):
    done = subprocess.run(argv, env=dict(os.environ, **(environ or {})), capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


@contextlib.contextmanager
def three_members(version, tmp_path):
    peers = dict(("m%d" % n, "http://127.0.0.1:%d" % free_port()) for n in (1, 2, 3))
    cluster = ",".join("%s=%s" % item for item in sorted(peers.items()))
    members = [Member(Toolset(str(BIN_ROOT), version), str(tmp_path / name), str(tmp_path / ("%s.log" % name)),
                      name=name, client_port=free_port(), listen_peer_urls=url, initial_cluster=cluster,
                      initial_cluster_token="switch-steps")
               for name, url in sorted(peers.items())]
    try:
        for member in members:
            member.start()
        for member in members:
            member.wait_ready(60)
        yield members
    finally:
        for member in members:
            member.stop()


def switch_of(member, version, **options):
    access = ClientAccess(member.tools.path("etcdctl"), member.client_url)
    return MemberSwitch(run, "etcd", member.data_dir, version, [], access, 30, 0.1, **options)


def leader_of(members):
    return next(m for m in members if m.status()["leader"] == m.status()["header"]["member_id"])


@pytest.mark.parametrize("spec", ["3.4.23", "3.7"])
def test_a_leader_hands_over_and_a_restarted_member_is_waited_for_until_it_holds_the_log(tmp_path, spec):
    version = etcd_version(spec)
    with three_members(version, tmp_path) as members:
        leader = leader_of(members)
        follower = next(m for m in members if m is not leader)
        follower_id = follower.status()["header"]["member_id"]

        switch = switch_of(leader, version, leader_transferee=follower_id, max_lag=5)
        switch.hand_over_leadership(must_answer=True)

        assert switch.result["leadership_moved_to"] == "%x" % follower_id
        assert all(m.status()["leader"] == follower_id for m in members)

        # A member asked again while it follows hands nothing over.
        again = switch_of(leader, version, leader_transferee=follower_id)
        again.hand_over_leadership(must_answer=True)
        assert "leadership_moved_to" not in again.result

        # The old leader restarts after writes it missed: the wait ends once it is within 5 entries of the leader.
        leader.stop()
        for i in range(300):
            follower.ctl("put", "/missed/%03d" % i, "x" * 100)
        leader.start()
        switch.wait_caught_up()
        rc, out, _err = run([leader.tools.path("etcdctl"), "--endpoints", leader.client_url, "endpoint", "status",
                             "--cluster", "-w", "json"])
        assert rc == 0 and raft_lag(out, leader.status()) <= 5
        assert leader.ctl_json("get", "/missed/299")["count"] == 1  # a linearizable read on the restarted member

        # A member stopped does not answer its status: the switch would stop nothing, and says so.
        leader.stop()
        with pytest.raises(SwitchFailed, match="(?s)does not answer its status .*context deadline exceeded.*Nothing was stopped"):
            switch_of(leader, version, leader_transferee=follower_id).hand_over_leadership(must_answer=True)
        # etcdctl's --cluster status fails while a member is down, so a lag is never read from part of the cluster.
        rc, out, _err = run([follower.tools.path("etcdctl"), "--endpoints", follower.client_url, "endpoint", "status",
                             "--cluster", "-w", "json"])
        assert rc != 0
        # It still prints the statuses it got: the wait reads the leader's from them.
        assert raft_lag(out, follower.status()) == 0
        waiting = switch_of(follower, version, max_lag=5)
        waiting.wait_caught_up()
        assert "caught_up_seconds" in waiting.result
