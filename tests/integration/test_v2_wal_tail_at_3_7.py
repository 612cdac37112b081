"""3.7 cannot apply a v2 WAL entry: a 3.6 member whose WAL tail, after its last snapshot, still holds a 3.5 member's
v2 publish (PUT /0/members/<id>/attributes) panics on its first start on 3.7 while it replays that tail, every time.
3.6 starts on the same data dir; a 3.6 restart with snapshot-count 1 and a forced snapshot clears the tail. Measured on
loopback: 14 panics in 81 switches, all of them members whose tail held such an entry (a 3.5 member started after
they reached 3.6, with hop snapshot-counts of 100 or 10000), none with the hops' snapshot-count 1."""

from etcd_sample import free_port
from helpers import BIN_ROOT, etcd_version
from ansible_collections.etcdops.etcd.plugins.module_utils.detect import detect
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError


def test_a_v2_publish_in_the_wal_tail_panics_3_7_until_3_6_snapshots_past_it(tmp_path):
    v35, v36, v37 = etcd_version("3.5"), etcd_version("3.6"), etcd_version("3.7")
    peers = dict(("m%d" % n, "http://127.0.0.1:%d" % free_port()) for n in (1, 2, 3))
    clients = dict((name, free_port()) for name in peers)
    logs = iter(range(100))

    def member(name, version, **settings):
        return Member(Toolset(str(BIN_ROOT), version), str(tmp_path / name),
                      str(tmp_path / ("%s.%02d.%s.log" % (name, next(logs), version))), name=name,
                      client_port=clients[name], listen_peer_urls=peers[name],
                      initial_cluster=",".join("%s=%s" % item for item in sorted(peers.items())),
                      initial_cluster_token="v2-tail", **settings)

    members = dict((name, member(name, v35)) for name in peers)
    try:
        for running in members.values():
            running.start()
        for running in members.values():
            running.wait_ready(60, cluster_version="3.5.0")
        # Default snapshot-counts: no snapshot is cut, so every WAL tail keeps the 3.5 members' v2 publishes.
        for name in ("m1", "m2", "m3"):
            members[name].stop()
            members[name] = member(name, v36).start()
            members[name].wait_ready(60)
        members["m3"].wait_ready(60, cluster_version="3.6.0")
        members["m1"].stop()
        data_dir = str(tmp_path / "m1")
        assert not detect(data_dir)["ready_for_next"]["3.7"]["ready"]

        for _attempt in range(2):  # a retried start replays the same tail
            members["m1"] = member("m1", v37).start()
            try:
                members["m1"].wait_ready(30)
                raise AssertionError("3.7 started on a WAL tail holding a v2 entry")
            except MigrationError as exc:
                assert "unmarshal should never fail" in open(members["m1"].log_path).read(), str(exc)

        # Back on 3.6 with snapshot-count 1: a forced snapshot past the v2 entry, and 3.7 replays none.
        members["m1"] = member("m1", v36, snapshot_count=1).start()
        members["m1"].wait_ready(60)
        members["m1"].force_snapshot(60)
        members["m1"].stop()
        assert detect(data_dir)["ready_for_next"]["3.7"]["ready"]
        members["m1"] = member("m1", v37).start()
        members["m1"].wait_ready(60)
    finally:
        for running in members.values():
            if running.proc is not None and running.proc.poll() is None:
                running.stop()
