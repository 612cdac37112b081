"""The offline downgrade below 3.6 (restore.yml with etcd_restore_version, upgrade.yml's offline hop) on real etcd.

A three-member 3.5 cluster on loopback with sample data (keys, a history, a compaction, a lease with keys) is
snapshotted; etcd_data_restore restores each member's data dir with 3.4's tool, as restore.yml does, and the three
members start on 3.4 with the same names, peer URLs and token. What ``snapshot restore`` keeps, measured: every key
with its revisions and lease, the revision, the compaction, and the lease with its keys and granted TTL (its
remaining TTL starts again); the member IDs stay (hashes of the peer URLs and the token).
"""

from pathlib import Path

import pytest

from etcd_sample import free_port, read_state, write_sample_data
from helpers import BIN_ROOT, etcd_version

from ansible_collections.etcdops.etcd.plugins.module_utils.data_restore import DataRestore
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset

NAMES = ["etcd-a", "etcd-b", "etcd-c"]
TOKEN = "offline-cluster"
STAMP = "20261130T060000Z"


class Cluster:
    """Three members on loopback, each with its own data dir under ``root``, all started on ``version``."""

    def __init__(self, root):
        self.root = root
        self.peers = {name: "http://127.0.0.1:%d" % free_port() for name in NAMES}
        self.clients = {name: free_port() for name in NAMES}
        self.initial_cluster = ",".join("%s=%s" % item for item in self.peers.items())

    def data_dir(self, name):
        return self.root / name

    def start(self, version):
        members = [Member(Toolset(BIN_ROOT, version), str(self.data_dir(name)),
                          str(self.root / ("%s-%s.log" % (name, version))), name=name, client_port=self.clients[name],
                          listen_peer_urls=self.peers[name], initial_cluster=self.initial_cluster,
                          initial_cluster_token=TOKEN)
                   for name in NAMES]
        try:
            for member in members:
                member.start()
            for member in members:
                member.wait_ready(60)
        except BaseException:
            self.stop(members)
            raise
        return members

    @staticmethod
    def stop(members):
        for member in members:
            member.stop()

    def restore(self, name, snapshot, version):
        """restore.yml's three phases for one member, with ``version``'s tool."""
        restore = DataRestore(str(self.data_dir(name)), str(snapshot), str(BIN_ROOT), version, name,
                              self.initial_cluster, TOKEN, self.peers[name], stamp=STAMP)
        restore.prepare()
        swapped = restore.swap()
        restore.finish()
        return swapped


def member_ids(member):
    return sorted(m["ID"] for m in member.ctl_json("member", "list")["members"])


@pytest.fixture(scope="module")
def downgraded(tmp_path_factory):
    """(state before, member IDs before, state read on each 3.4 member, their IDs, versions, aside dirs)."""
    v35, v34 = etcd_version("3.5"), etcd_version("3.4")
    cluster = Cluster(tmp_path_factory.mktemp("offline"))
    snapshot = cluster.root / ("etcd-%s-offline.db" % v35)
    members = cluster.start(v35)
    try:
        marks = write_sample_data(members[0])
        before, ids_before = read_state(members[0], marks), member_ids(members[0])
        members[0].ctl("snapshot", "save", str(snapshot))
    finally:
        cluster.stop(members)
    asides = [cluster.restore(name, snapshot, v34)["aside"] for name in NAMES]
    members = cluster.start(v34)
    try:
        after = [read_state(member, marks) for member in members]
        return dict(before=before, ids_before=ids_before, after=after, ids_after=[member_ids(m) for m in members],
                    versions=[member.ctl_json("endpoint", "status")[0]["Status"]["version"] for member in members],
                    asides=asides, v34=v34, v35=v35)
    finally:
        cluster.stop(members)


def test_every_member_runs_34_and_serves_every_key_with_its_revisions_and_lease(downgraded):
    assert downgraded["versions"] == [downgraded["v34"]] * 3
    for state in downgraded["after"]:
        assert state["kvs"] == downgraded["before"]["kvs"]
        assert state["revision"] >= downgraded["before"]["revision"]


def test_the_lease_keeps_its_keys_and_granted_ttl_and_the_compaction_and_the_member_ids_stay(downgraded):
    before = downgraded["before"]
    assert before["lease"]["keys"] == ["/sample/leased-a", "/sample/leased-b"] and before["lease"]["alive"]
    for state in downgraded["after"]:
        assert state["lease"] == before["lease"]
        assert state["below_compaction_refused"] and state["at_compaction"] == before["at_compaction"]
    assert downgraded["ids_after"] == [downgraded["ids_before"]] * 3


def test_the_35_data_dirs_are_kept_aside(downgraded):
    for aside in downgraded["asides"]:
        assert aside.endswith(".before-restore-%s" % STAMP)
        assert (Path(aside) / "member" / "snap" / "db").is_file()
