"""Member IDs through a restore, on real etcd: a bootstrapped member's ID and a restored one's are made from the
peer URLs and the cluster token alone (member_ids.bootstrap_member_id), a member added by ``member add`` is not, so
restore.yml says which running members a restore gives other IDs."""

import pytest

from etcd_sample import free_port
from helpers import etcd_version, running_etcd

from ansible_collections.etcdops.etcd.plugins.plugin_utils.member_ids import bootstrap_member_id, ids_not_kept


@pytest.mark.parametrize("spec", ["3.3.25", "3.4.23", "3.5", "3.6", "3.7"])
def test_bootstrapped_and_restored_ids_come_from_the_peer_urls_and_token_and_added_ones_do_not(tmp_path, spec):
    version = etcd_version(spec)
    peer = free_port()
    urls = ["http://localhost:%d" % peer, "http://127.0.0.1:%d" % peer]  # sorted the other way round by etcd
    added = "http://127.0.0.1:%d" % free_port()
    with running_etcd(version, tmp_path / "data", tmp_path, name="m1", listen_peer_urls="http://127.0.0.1:%d" % peer,
                      initial_advertise_peer_urls=",".join(urls), initial_cluster=",".join("m1=" + u for u in urls),
                      initial_cluster_token="ids-token") as member:
        first = member.ctl_json("member", "list")["members"]
        assert [int(m["ID"]) for m in first] == [bootstrap_member_id(urls, "ids-token")]
        assert ids_not_kept(first, [",".join(urls)], "ids-token") == []
        # Another token than the one the member was made with: the restore would give it another ID.
        assert ids_not_kept(first, [",".join(urls)], "etcd-cluster") == ["m1"]
        member.ctl("snapshot", "save", str(tmp_path / "s.db"))
        # A member added has an ID of the time too (as a learner, from 3.4: a voter never started would take the
        # quorum; not started, it has no name yet).
        if spec != "3.3.25":
            member.ctl("member", "add", "m2", "--learner", "--peer-urls=%s" % added)
            listed = member.ctl_json("member", "list")["members"]
            new = [m for m in listed if m.get("peerURLs") == [added]]
            assert ids_not_kept(listed, [",".join(urls), added], "ids-token") == ["%x" % int(new[0]["ID"])]
    # A restore with a new token makes the ID from the peer URLs and that token.
    member.tools.run("etcdutl" if member.tools.has_etcdutl else "etcdctl", [
        "snapshot", "restore", str(tmp_path / "s.db"), "--name", "m1", "--data-dir", str(tmp_path / "restored"),
        "--initial-cluster", ",".join("m1=" + u for u in urls), "--initial-cluster-token", "new-token",
        "--initial-advertise-peer-urls", ",".join(urls)])
    with running_etcd(version, tmp_path / "restored", tmp_path, name="m1", listen_peer_urls="http://127.0.0.1:%d" % peer,
                      initial_advertise_peer_urls=",".join(urls)) as restored:
        assert [int(m["ID"]) for m in restored.ctl_json("member", "list")["members"]] == [
            bootstrap_member_id(urls, "new-token")]
