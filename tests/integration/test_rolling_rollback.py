"""A hop stopped part-way can be rolled back: a member already on the next minor goes back to the previous one
while the cluster version has not moved (what upgrade.yml's rescue tells the operator). Real three-member
clusters on loopback."""

import pytest

from etcd_sample import free_port
from helpers import BIN_ROOT, etcd_version

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset

HOPS = [("3.4.23", "3.5"), ("3.5", "3.6"), ("3.6", "3.7")]


class Cluster:
    def __init__(self, tmp_path):
        self.names = ["m0", "m1", "m2"]
        self.peer = {n: "http://127.0.0.1:%d" % free_port() for n in self.names}
        self.client_port = {n: free_port() for n in self.names}
        self.tmp_path = tmp_path
        self.members = {}

    def start(self, name, version):
        member = Member(Toolset(str(BIN_ROOT), version), str(self.tmp_path / name),
                        str(self.tmp_path / ("%s-%s.log" % (name, version))), name=name,
                        client_port=self.client_port[name], listen_peer_urls=self.peer[name],
                        initial_cluster=",".join("%s=%s" % (n, self.peer[n]) for n in self.names),
                        initial_cluster_token="rollback-test")
        self.members[name] = member.start()
        return member

    def stop_all(self):
        for member in self.members.values():
            member.stop()


@pytest.mark.parametrize("old_spec,new_spec", HOPS, ids=["%s-%s" % hop for hop in HOPS])
def test_a_member_on_the_next_minor_goes_back_while_the_cluster_version_stays(tmp_path, old_spec, new_spec):
    old, new = etcd_version(old_spec), etcd_version(new_spec)
    cluster = Cluster(tmp_path)
    try:
        for name in cluster.names:
            cluster.start(name, old)
        for member in cluster.members.values():
            member.wait_ready(60)
        ids = sorted(m["ID"] for m in cluster.members["m0"].ctl_json("member", "list")["members"])
        old_cluster = "%s.0" % old.rsplit(".", 1)[0]

        cluster.members["m2"].stop()
        switched = cluster.start("m2", new)
        assert switched.wait_ready(60)["etcdcluster"] == old_cluster
        switched.ctl("put", "/written/on-new", "1")

        switched.stop()
        back = cluster.start("m2", old)
        assert back.wait_ready(60)["etcdcluster"] == old_cluster
        back.ctl("put", "/written/after-rollback", "2")
        for member in cluster.members.values():
            assert member.status()["version"] == old
            got = member.ctl("get", "/written/", "--prefix", "--print-value-only").stdout.split()
            assert got == ["2", "1"]
        assert sorted(m["ID"] for m in back.ctl_json("member", "list")["members"]) == ids
    finally:
        cluster.stop_all()
