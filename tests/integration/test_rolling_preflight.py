"""The rolling pre-flight on what real members' data says, read live while etcd runs (as upgrade.yml reads it)."""

from etcd_sample import free_port
from helpers import BIN_ROOT, etcd_version, running_etcd

from ansible_collections.etcdops.etcd.plugins.module_utils.detect import safe_detect
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Toolset
from ansible_collections.etcdops.etcd.plugins.plugin_utils.rolling import rolling_preflight


def member_report(member, data_dir, host):
    status = member.status()
    data = safe_detect(str(data_dir))
    return {"host": host, "id": status["header"]["member_id"], "leader": status["leader"],
            "version": status["version"], "healthy": True, "db_size": status["dbSize"], "free_bytes": 10 ** 10,
            "ready_for_next": data.get("ready_for_next"), "auth_enabled": data["db"]["auth_enabled"],
            "learner": status.get("isLearner", False)}


def test_v2_requests_in_a_live_wal_tail_add_a_snapshot_hop_and_v2_keys_in_a_snap_block(tmp_path):
    v35, v36 = etcd_version(">=3.5.26 <3.6.0"), etcd_version("3.6")
    data_dir = tmp_path / "data"
    with running_etcd(v35, data_dir, tmp_path, extra_args=["--enable-v2=true"]) as member:
        member.v2("PUT", "/legacy/key", {"value": "v2 client data"})
        in_wal = rolling_preflight([member_report(member, data_dir, "m1")], v36, [v35, v36])
    assert in_wal["errors"] == []
    assert [(h["action"], h["version"]) for h in in_wal["hops"]] == [("snapshot", v35), ("upgrade", v36)]
    assert any("m1: the WAL tail holds v2 requests 3.6 refuses: PUT /1/legacy/key" in w for w in in_wal["warnings"])

    # What the snapshot hop does: with snapshot-count 1 the v2 request leaves the WAL tail for a .snap.
    with running_etcd(v35, data_dir, tmp_path, extra_args=["--enable-v2=true"], snapshot_count=1) as member:
        member.ctl("put", "/v3/key", "a")
        member.ctl("put", "/v3/key", "b")
        in_snap = rolling_preflight([member_report(member, data_dir, "m1")], v36, [v35, v36])
    assert [h["action"] for h in in_snap["hops"]] == ["upgrade"]
    assert len(in_snap["errors"]) == 1
    assert in_snap["errors"][0].startswith("m1: the newest .snap holds custom v2 data, which 3.6 refuses")


def test_a_clean_live_35_member_goes_straight_to_36_with_the_v2store_check(tmp_path):
    v35, v36 = etcd_version(">=3.5.26 <3.6.0"), etcd_version("3.6")
    data_dir = tmp_path / "data"
    with running_etcd(v35, data_dir, tmp_path) as member:
        member.ctl("put", "/v3/key", "a")
        result = rolling_preflight([member_report(member, data_dir, "m1")], v36, [v35, v36])
    assert result["errors"] == [] and result["warnings"] == []
    assert [(h["action"], h["version"], h["check_v2store"]) for h in result["hops"]] == [("upgrade", v36, True)]


def test_etcdutl_check_v2store_passes_clean_data_and_fails_v2_data_as_the_hop_expects(tmp_path):
    """upgrade.yml gates each stopped 3.5 member on this command's exit code before 3.6 starts on it."""
    v35 = etcd_version(">=3.5.32 <3.6.0")
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    with running_etcd(v35, clean, tmp_path) as member:
        member.ctl("put", "/v3/key", "a")
    with running_etcd(v35, dirty, tmp_path, extra_args=["--enable-v2=true"]) as member:
        member.v2("PUT", "/legacy/key", {"value": "v2 client data"})
    tools = Toolset(str(BIN_ROOT), v35)
    ok = tools.run("etcdutl", ["check", "v2store", "--data-dir", str(clean)], check=False)
    refused = tools.run("etcdutl", ["check", "v2store", "--data-dir", str(dirty)], check=False)
    assert ok.returncode == 0 and "No custom content found" in ok.stdout + ok.stderr
    assert refused.returncode != 0 and "detected custom v2 content in WAL records" in refused.stdout + refused.stderr


def test_auth_enabled_on_a_live_34_member_blocks_the_rolling_35_hop(tmp_path):
    v34, v35 = "3.4.23", etcd_version(">=3.5.26 <3.6.0")
    data_dir = tmp_path / "data"
    with running_etcd(v34, data_dir, tmp_path) as member:
        before = safe_detect(str(data_dir))["db"]["auth_enabled"]
        member.ctl("user", "add", "root:rootpw")
        member.ctl("auth", "enable")
        report = member_report(member, data_dir, "m1")
    assert before is False and report["auth_enabled"] is True
    result = rolling_preflight([report], v35, [v34, v35], {"root_password_given": True})
    assert len(result["errors"]) == 1 and result["errors"][0].startswith("m1: auth is enabled")
    assert "etcdctl auth disable" in result["errors"][0]


def test_auth_enabled_without_etcd_root_password_blocks_before_anything_changes(tmp_path):
    v35, v36 = etcd_version(">=3.5.32 <3.6.0"), etcd_version("3.6")
    data_dir = tmp_path / "data"
    with running_etcd(v35, data_dir, tmp_path) as member:
        report = member_report(member, data_dir, "m1")  # read before auth: 3.5 answers no call without a user then
        member.ctl("user", "add", "root:rootpw")
        member.ctl("auth", "enable")
        report["auth_enabled"] = safe_detect(str(data_dir))["db"]["auth_enabled"]
    assert report["auth_enabled"] is True
    refused = rolling_preflight([report], v36, [v35, v36])
    assert len(refused["errors"]) == 1 and refused["errors"][0].startswith("m1: auth is enabled")
    for named in ("etcd_root_password", "etcd_root_user", "snapshot save", "move-leader"):
        assert named in refused["errors"][0]
    assert rolling_preflight([report], v36, [v35, v36], {"root_password_given": True})["errors"] == []
    report["auth_enabled"] = False
    assert rolling_preflight([report], v36, [v35, v36])["errors"] == []


def test_snapshot_count_1_and_two_lease_round_trips_clear_a_v2_wal_tail(tmp_path):
    """What upgrade.yml does after a hop on snapshot-count 1: the QGET a 3.5 /health proposes (v2 on) is gone."""
    v35 = etcd_version(">=3.5.32 <3.6.0")
    data_dir = tmp_path / "data"
    tools = Toolset(str(BIN_ROOT), v35)
    with running_etcd(v35, data_dir, tmp_path, extra_args=["--enable-v2=true"]):
        pass  # wait_ready's GET /health proposed the QGET
    dirty = tools.run("etcdutl", ["check", "v2store", "--data-dir", str(data_dir)], check=False)
    assert dirty.returncode != 0 and "custom v2 content in WAL records" in dirty.stdout + dirty.stderr
    with running_etcd(v35, data_dir, tmp_path, snapshot_count=1) as member:
        for _round in range(2):
            lease = member.ctl("lease", "grant", "60").stdout.split()[1]
            member.ctl("lease", "revoke", lease)
    clean = tools.run("etcdutl", ["check", "v2store", "--data-dir", str(data_dir)], check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_a_learner_is_refused_naming_the_command_that_promotes_it(tmp_path):
    """A learner cannot take leadership (a leader's switch hands it over first) nor vote: a membership change half
    done is finished before a rolling change, and the pre-flight says how."""
    version = etcd_version("3.6")
    voter_peer, learner_peer = ("http://127.0.0.1:%d" % port for port in (free_port(), free_port()))
    for name in ("m1", "m2"):
        (tmp_path / name).mkdir()
    with running_etcd(version, tmp_path / "m1" / "data", tmp_path / "m1", name="m1",
                      listen_peer_urls=voter_peer, initial_advertise_peer_urls=voter_peer) as voter:
        voter.ctl("member", "add", "m2", "--learner", "--peer-urls=" + learner_peer)
        with running_etcd(version, tmp_path / "m2" / "data", tmp_path / "m2", name="m2", listen_peer_urls=learner_peer,
                          initial_advertise_peer_urls=learner_peer,
                          initial_cluster="m1=%s,m2=%s" % (voter_peer, learner_peer),
                          extra_args=["--initial-cluster-state", "existing"]) as learner:
            reports = [member_report(voter, tmp_path / "m1" / "data", "m1"),
                       member_report(learner, tmp_path / "m2" / "data", "m2")]
    assert [report["learner"] for report in reports] == [False, True]
    result = rolling_preflight(reports, version, [version])
    assert result["errors"] == ["m2 is a learner (added, not promoted): promote it once it has caught up (etcdctl "
                                "member promote %x) or remove it, before a rolling change" % reports[1]["id"]]
