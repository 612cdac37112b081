"""Hops of a rolling change of a running cluster: pure, shared with etcd_migrate's plan."""

import pytest

from ansible_collections.etcdops.etcd.plugins.plugin_utils.rolling import (
    plan_hops, rejected_settings, restore_version_refusal, rolling_preflight, rolling_summary)
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

OFFERED = ["3.4.23", "3.5.16", "3.5.35", "3.6.5", "3.6.16", "3.7.3"]


def rolling_hops(running, target, available):
    return plan_hops(running, target, available)[0]


def test_upgrade_rolls_every_minor_with_the_newest_patch():
    assert rolling_hops(["3.4.23"] * 3, "3.7.3", OFFERED) == [
        {"version": "3.5.35", "action": "upgrade"}, {"version": "3.6.16", "action": "upgrade"},
        {"version": "3.7.3", "action": "upgrade"}]


def test_patch_floors_add_a_patch_hop_first():
    assert rolling_hops(["3.5.16"] * 3, "3.6.16", OFFERED)[0] == {"version": "3.5.35", "action": "upgrade"}
    assert rolling_hops(["3.6.5"] * 3, "3.7.3", OFFERED)[0] == {"version": "3.6.16", "action": "upgrade"}


def test_a_patch_change_is_still_rolled():
    assert rolling_hops(["3.5.16"] * 3, "3.5.35", OFFERED) == [{"version": "3.5.35", "action": "upgrade"}]


def test_downgrade_uses_the_api_from_36_and_below_refuses_naming_the_offline_flag():
    assert rolling_hops(["3.7.3"] * 3, "3.6.16", OFFERED) == [{"version": "3.6.16", "action": "downgrade"}]
    with pytest.raises(MigrationError, match="cannot be downgraded in place.*-e etcd_allow_offline_downgrade=true"):
        rolling_hops(["3.5.35"] * 3, "3.4.23", OFFERED)


def test_the_offline_flag_makes_one_minor_down_below_36_an_offline_hop_and_no_more():
    assert plan_hops(["3.5.35"] * 3, "3.4.23", OFFERED, offline_allowed=True)[0] == [
        {"version": "3.4.23", "action": "offline"}]
    assert plan_hops(["3.4.23"] * 3, "3.3.25", OFFERED + ["3.3.25"], offline_allowed=True)[0] == [
        {"version": "3.3.25", "action": "offline"}]
    # A 3.6 cluster goes to 3.5 first (the downgrade API), in a run of its own; two minors at once are refused.
    for running, target in (("3.6.16", "3.4.23"), ("3.5.35", "3.3.25")):
        with pytest.raises(MigrationError, match="more than one minor below.*migrate to"):
            plan_hops([running] * 3, target, OFFERED + ["3.3.25"], offline_allowed=True)
    # The flag changes nothing where the downgrade API is there.
    assert plan_hops(["3.7.3"] * 3, "3.6.16", OFFERED, offline_allowed=True)[0] == [
        {"version": "3.6.16", "action": "downgrade"}]


def test_a_restore_goes_onto_the_snapshots_version_or_one_minor_down_below_36_only():
    for snapshot, version in (("3.5.35", "3.5.35"), ("3.5.35", "3.4.23"), ("3.4.23", "3.3.25"), ("3.5.0", "3.4.23")):
        assert restore_version_refusal(snapshot, version) == ""
    for snapshot, version, way in (("3.6.16", "3.5.35", "changes version while it runs: upgrade.yml"),
                                   ("3.5.35", "3.3.25", "more than one minor below"),
                                   ("3.4.23", "3.5.35", "changes version while it runs"),
                                   ("3.5.35", "3.5.0", "")):
        refusal = restore_version_refusal(snapshot, version)
        assert refusal.startswith("a snapshot of etcd %s is restored onto its own version" % snapshot), refusal
        assert "not onto %s" % version in refusal and way in refusal


def test_the_offline_hop_states_the_downtime_and_takes_one_cluster_per_run():
    allowed = {"offline_downgrade_allowed": True, "extra_config": {"experimental-initial-corrupt-check": True}}
    result = rolling_preflight(members(version="3.5.35"), "3.4.23", OFFERED, allowed)
    assert result["errors"] == []
    hop, = result["hops"]
    assert (hop["action"], hop["from"], hop["version"], hop["together"]) == ("offline", "3.5.35", "3.4.23", False)
    assert hop["rejected_settings"] == []
    downtime, = [w for w in result["warnings"] if w.startswith("offline downgrade 3.5.35 -> 3.4.23")]
    assert "every member (m1, m2, m3) is stopped" in downtime and "writes after the snapshot are lost" in downtime
    crowded = rolling_preflight(members(version="3.5.35"), "3.4.23", OFFERED, dict(allowed, clusters=2))
    assert any("one cluster per run" in e and "etcd_cluster_group" in e for e in crowded["errors"])
    adopted = rolling_preflight(members(version="3.5.35", m2={"adopted_sources": {"name": "flag"}}), "3.4.23",
                                OFFERED, allowed)
    assert any("m2 run under a unit of their own" in e for e in adopted["errors"])


def test_a_hop_stopped_part_way_is_finished_first():
    assert rolling_hops(["3.5.35", "3.6.16", "3.5.35"], "3.7.3", OFFERED) == [
        {"version": "3.6.16", "action": "upgrade"}, {"version": "3.7.3", "action": "upgrade"}]
    assert rolling_hops(["3.7.3", "3.6.16", "3.7.3"], "3.6.16", OFFERED) == [
        {"version": "3.6.16", "action": "downgrade"}]


def test_members_on_unrelated_versions_are_refused():
    with pytest.raises(MigrationError, match="must be on one version"):
        rolling_hops(["3.4.23", "3.6.16"], "3.7.3", OFFERED)
    with pytest.raises(MigrationError, match="no member reported"):
        rolling_hops([], "3.7.3", OFFERED)


def test_already_there_means_no_hop():
    assert rolling_hops(["3.7.3"] * 3, "3.7.3", OFFERED) == []


def members(version="3.4.23", leader_host="m2", **overrides):
    ids = {"m1": 11, "m2": 12, "m3": 13}
    out = []
    for host, member_id in ids.items():
        member = {"host": host, "id": member_id, "leader": ids[leader_host], "version": version,
                  "healthy": True, "db_size": 1000, "free_bytes": 10 ** 9, "ready_for_next": READY}
        member.update(overrides.get(host, {}))
        out.append(member)
    return out


def test_preflight_orders_the_leader_last_and_marks_the_v2store_check_on_the_36_hop():
    result = rolling_preflight(members(leader_host="m1"), "3.7.3", OFFERED)
    assert result["errors"] == []
    assert result["order"] == ["m2", "m3", "m1"]
    assert [(h["from"], h["version"], h["check_v2store"]) for h in result["hops"]] == [
        ("3.4.23", "3.5.35", False), ("3.5.35", "3.6.16", True), ("3.6.16", "3.7.3", False)]
    assert [h["minor"] for h in result["hops"]] == ["3.5", "3.6", "3.7"]


def test_preflight_refuses_an_unhealthy_member_a_full_disk_and_a_split_view_of_the_leader():
    result = rolling_preflight(members(m1={"healthy": False}, m2={"free_bytes": 1500}, m3={"leader": 99}),
                               "3.5.35", OFFERED)
    assert len(result["errors"]) == 3
    assert "m1 is not healthy" in result["errors"][0]
    assert "m2 has 1500 bytes free" in result["errors"][1] and "2 x its db (1000 bytes)" in result["errors"][1]
    assert "do not agree on a leader" in result["errors"][2] and "m3 sees 99" in result["errors"][2]


def test_preflight_refuses_a_learner_naming_how_to_promote_it():
    result = rolling_preflight(members(m3={"learner": True}), "3.5.35", OFFERED)
    assert result["errors"] == ["m3 is a learner (added, not promoted): promote it once it has caught up (etcdctl "
                                "member promote d) or remove it, before a rolling change"]
    assert rolling_preflight(members(m3={"learner": False}), "3.5.35", OFFERED)["errors"] == []


def test_preflight_reports_plan_refusals_as_errors_not_exceptions():
    result = rolling_preflight(members(version="3.5.35"), "3.4.23", OFFERED)
    assert result["hops"] == []
    assert len(result["errors"]) == 1 and "etcd_allow_offline_downgrade=true" in result["errors"][0]


def test_preflight_warns_below_the_recommended_35_patch_and_adds_the_floor_hop():
    offered = ["3.5.16", "3.5.28", "3.6.16"]
    result = rolling_preflight(members(version="3.5.16"), "3.6.16", offered)
    assert [h["version"] for h in result["hops"]] == ["3.5.28", "3.6.16"]
    assert result["hops"][1]["check_v2store"] is True
    assert any("below 3.5.32" in w for w in result["warnings"])
    with_floor = rolling_preflight(members(version="3.5.16"), "3.6.16", ["3.5.16", "3.5.20", "3.6.16"])
    assert "must reach 3.5.26" in with_floor["errors"][0]


def test_preflight_resumes_a_half_rolled_hop_from_the_members_still_behind():
    result = rolling_preflight(members(version="3.5.35", m1={"version": "3.6.16"}), "3.6.16", OFFERED)
    assert result["errors"] == []
    assert [(h["from"], h["version"], h["check_v2store"]) for h in result["hops"]] == [("3.5.35", "3.6.16", True)]


def test_preflight_lists_the_settings_the_next_versions_drop():
    settings = {"enable_v2": True, "extra_config": {"experimental-initial-corrupt-check": True, "auto-compaction-mode": "periodic"}}
    to_36 = rolling_preflight(members(version="3.5.35"), "3.6.16", OFFERED, settings)
    assert [d.split()[0] for d in to_36["dropped_settings"]] == ["enable-v2"]
    to_37 = rolling_preflight(members(version="3.6.16"), "3.7.3", OFFERED, settings)
    assert [d.split()[0] for d in to_37["dropped_settings"]] == ["experimental-initial-corrupt-check"]
    assert "initial-corrupt-check" in to_37["dropped_settings"][0]
    assert rolling_preflight(members(version="3.7.3"), "3.6.16", OFFERED, settings)["dropped_settings"] == []


READY = {"3.6": {"ready": True, "blockers": []}, "3.7": {"ready": True, "blockers": []}}
WAL_V2 = {"3.6": {"ready": False, "blockers": ["the WAL tail holds v2 requests 3.6 refuses: QGET /"]},
          "3.7": {"ready": False, "blockers": ["the WAL tail after the last snapshot holds 1 v2 entries"]}}
STORE_V2 = {"3.6": {"ready": False, "blockers": ["the newest .snap holds custom v2 data"]}, "3.7": READY["3.7"]}


def test_preflight_restarts_with_snapshots_first_when_a_wal_tail_blocks_the_first_hop():
    result = rolling_preflight(members(version="3.5.35", m2={"ready_for_next": WAL_V2},
                                       m1={"ready_for_next": READY}, m3={"ready_for_next": READY}),
                               "3.6.16", OFFERED)
    assert result["errors"] == []
    assert [(h["action"], h["version"]) for h in result["hops"]] == [("snapshot", "3.5.35"), ("upgrade", "3.6.16")]
    assert any(w.startswith("m2: the WAL tail holds v2 requests") for w in result["warnings"])


def test_preflight_leaves_a_wal_tail_to_an_earlier_hop_that_snapshots():
    ready = {"ready_for_next": WAL_V2}
    result = rolling_preflight(members(m1=ready, m2=ready, m3=ready), "3.6.16", OFFERED)
    assert result["errors"] == []
    assert [h["action"] for h in result["hops"]] == ["upgrade", "upgrade"]


def test_preflight_refuses_custom_v2_data_and_warns_when_data_was_unreadable():
    result = rolling_preflight(members(version="3.5.35", m1={"ready_for_next": STORE_V2},
                                       m2={"ready_for_next": None}), "3.6.16", OFFERED)
    assert len(result["errors"]) == 1
    assert result["errors"][0].startswith("m1: the newest .snap holds custom v2 data, which 3.6 refuses")
    assert any(w.startswith("m2: its data could not be read live") for w in result["warnings"])


def test_preflight_snapshots_first_when_a_members_data_was_unreadable_before_a_first_crossing():
    """Unread, a WAL tail may hold v2 entries 3.7 cannot replay (tests/integration/test_v2_wal_tail_at_3_7.py)."""
    unread = "m2: its data could not be read live (a read can meet a write; the next run reads it anew), so "
    to_37 = rolling_preflight(members(version="3.6.16", m2={"ready_for_next": None}), "3.7.3", OFFERED)
    assert [(h["action"], h["version"]) for h in to_37["hops"]] == [("snapshot", "3.6.16"), ("upgrade", "3.7.3")]
    assert to_37["warnings"] == [unread + "every member is restarted once on 3.6.16 with snapshot-count 1 first"]
    # Crossed later, the hops on 3.5 and 3.6 before it run with snapshot-count 1.
    from_34 = rolling_preflight(members(m2={"ready_for_next": None}), "3.7.3", OFFERED)
    assert [h["action"] for h in from_34["hops"]] == ["upgrade", "upgrade", "upgrade"]
    assert [h["snapshot_count"] for h in from_34["hops"]][:2] == [1, 1]
    assert from_34["warnings"] == [
        unread + "the hops before 3.6 run with snapshot-count 1; etcdutl check v2store on the stopped member decides "
                 "before 3.6 starts",
        unread + "the hops before 3.7 run with snapshot-count 1"]


def test_a_resumed_hop_is_never_preceded_by_a_snapshot_hop_that_would_take_members_back():
    roll_back = ("the hop to 3.7.3 was stopped part-way: roll it back (etcd_target_version=3.6.16), then run again, "
                 "and every member is restarted once with snapshot-count 1 first")
    unread = rolling_preflight(members(version="3.6.16", m1={"version": "3.7.3", "ready_for_next": None},
                                       m2={"ready_for_next": None}), "3.7.3", OFFERED)
    assert [h["action"] for h in unread["hops"]] == ["upgrade"] and unread["errors"] == []
    # m1, on 3.7 already, is past the gate: only m2 is said.
    assert unread["warnings"] == [
        "m2: its data could not be read live (a read can meet a write; the next run reads it anew), so if its WAL "
        "tail holds v2 entries 3.7 does not start on it (its switch puts it back); " + roll_back]
    tail = rolling_preflight(members(version="3.6.16", m1={"version": "3.7.3"}, m2={"ready_for_next": WAL_V2}),
                             "3.7.3", OFFERED)
    assert [h["action"] for h in tail["hops"]] == ["upgrade"]
    assert tail["errors"] == ["m2: the WAL tail after the last snapshot holds 1 v2 entries, which 3.7 cannot start "
                              "on, and " + roll_back]


def test_a_hop_stopped_part_way_can_be_rolled_back_to_where_it_started():
    assert rolling_hops(["3.4.23", "3.5.35", "3.4.23"], "3.4.23", OFFERED) == [
        {"version": "3.4.23", "action": "downgrade"}]
    assert rolling_hops(["3.5.35", "3.6.16", "3.5.35"], "3.5.35", OFFERED) == [
        {"version": "3.5.35", "action": "downgrade"}]


def test_each_hop_carries_the_server_roles_snapshot_count_and_the_keys_its_version_rejects():
    settings = {"enable_v2": True, "snapshot_count": 5000,
                "extra_config": {"experimental-initial-corrupt-check": True, "auto-compaction-mode": "periodic"}}
    result = rolling_preflight(members(), "3.7.3", OFFERED, settings)
    assert [(h["version"], h["snapshot_count"]) for h in result["hops"]] == [
        ("3.5.35", 1), ("3.6.16", 1), ("3.7.3", 5000)]
    assert [h["rejected_settings"] for h in result["hops"]] == [
        [], ["enable-v2"], ["enable-v2", "experimental-initial-corrupt-check"]]
    last_hop = rolling_preflight(members(version="3.5.35"), "3.6.16", OFFERED)["hops"]
    assert [h["snapshot_count"] for h in last_hop] == [0]


def test_the_snapshot_hop_first_runs_with_snapshot_count_1():
    wal_tail = {"ready_for_next": WAL_V2}
    result = rolling_preflight(members(version="3.5.35", m1=wal_tail, m2=wal_tail, m3=wal_tail), "3.6.16", OFFERED)
    assert [(h["action"], h["snapshot_count"]) for h in result["hops"]] == [("snapshot", 1), ("upgrade", 0)]


def test_rejected_settings_by_version():
    extra = {"experimental-initial-corrupt-check": True, "auto-compaction-mode": "periodic"}
    assert rejected_settings("3.5.35", extra) == []
    assert rejected_settings("3.6.16", extra) == ["enable-v2"]
    assert rejected_settings("3.7.3", extra) == ["enable-v2", "experimental-initial-corrupt-check"]


def test_auth_on_without_the_root_password_names_what_needs_root_including_a_downgrade():
    auth_on = members("3.7.3", m1={"auth_enabled": True}, m2={"auth_enabled": True})
    errors = rolling_preflight(auth_on, "3.6.16", OFFERED)["errors"]
    assert len(errors) == 1 and errors[0].startswith("m1, m2: auth is enabled")
    assert "downgrade validate/enable" in errors[0] and "etcd_root_password" in errors[0]
    assert rolling_preflight(auth_on, "3.6.16", OFFERED, {"root_password_given": True})["errors"] == []


def test_auth_on_refuses_rolling_into_35_naming_the_together_hop_and_its_outage():
    auth_on = members("3.4.23", m2={"auth_enabled": True})
    result = rolling_preflight(auth_on, "3.7.3", OFFERED, {"root_password_given": True})
    assert len(result["errors"]) == 1 and result["errors"][0].startswith("m2: auth is enabled")
    for named in ("etcd_rolling_allow_cluster_restart=true", "outage", "3.5.35", "etcdctl auth disable"):
        assert named in result["errors"][0]
    assert not any(hop["together"] for hop in result["hops"])


def test_auth_on_with_a_cluster_restart_allowed_makes_only_the_35_hop_together_and_says_so():
    auth_on = members("3.4.23", m1={"auth_enabled": True}, m3={"auth_enabled": True})
    settings = {"root_password_given": True, "cluster_restart_allowed": True}
    result = rolling_preflight(auth_on, "3.7.3", OFFERED, settings)
    assert result["errors"] == []
    assert [(hop["version"], hop["together"]) for hop in result["hops"]] == [
        ("3.5.35", True), ("3.6.16", False), ("3.7.3", False)]
    assert [w for w in result["warnings"] if w.startswith("auth is enabled (m1, m3): the hop to 3.5.35 stops every")]


def test_auth_on_changes_nothing_for_hops_that_do_not_cross_into_35_nor_without_auth():
    assert rolling_preflight(members("3.5.35", m1={"auth_enabled": True}), "3.7.3", OFFERED,
                             {"root_password_given": True})["errors"] == []
    resumed = members("3.4.23", m1={"version": "3.5.35", "auth_enabled": True})
    together = rolling_preflight(resumed, "3.5.35", OFFERED, {"root_password_given": True,
                                                              "cluster_restart_allowed": True})
    assert [(hop["version"], hop["together"]) for hop in together["hops"]] == [("3.5.35", True)]
    plain = rolling_preflight(members("3.4.23"), "3.6.16", OFFERED)
    assert plain["errors"] == [] and not any(hop["together"] for hop in plain["hops"])


def test_rolling_a_stopped_35_hop_back_to_34_with_auth_on_is_together_too():
    half = members("3.4.23", m1={"version": "3.5.35", "auth_enabled": True})
    back = rolling_preflight(half, "3.4.23", OFFERED, {"root_password_given": True})
    assert len(back["errors"]) == 1 and "etcd_rolling_allow_cluster_restart" in back["errors"][0]
    allowed = rolling_preflight(half, "3.4.23", OFFERED, {"root_password_given": True, "cluster_restart_allowed": True})
    assert [(hop["action"], hop["version"], hop["together"]) for hop in allowed["hops"]] == [
        ("downgrade", "3.4.23", True)]


def test_a_together_hop_needs_as_many_forks_as_members():
    auth_on = members("3.4.23", m1={"auth_enabled": True})
    settings = {"root_password_given": True, "cluster_restart_allowed": True, "forks": 2}
    errors = rolling_preflight(auth_on, "3.5.35", OFFERED, settings)["errors"]
    assert len(errors) == 1 and "--forks 3" in errors[0]
    assert rolling_preflight(auth_on, "3.5.35", OFFERED, dict(settings, forks=3))["errors"] == []


def noted(host, cluster, errors=(), done=True, stages=(), downtime=(), snapshots=()):
    return {"inventory_hostname": host, "etcd_rolling_plan": {"cluster": cluster, "errors": list(errors),
                                                              "hops": [{"action": "upgrade", "version": "3.5.35"}]},
            "etcd_rolling_done": done, "etcd_rolling_stages": list(stages), "etcd_rolling_downtime": list(downtime),
            "etcd_rolling_snapshots": list(snapshots)}


def test_the_summary_gives_each_cluster_its_own_result_and_notes():
    summary = rolling_summary([
        noted("b2", "b", done=False), noted("b1", "b", snapshots=["/s/b.db"]),
        noted("a2", "a", stages=[{"hop": "3.5.35"}], downtime=[{"member": "a2"}]),
        noted("a1", "a", downtime=[{"member": "a1"}], snapshots=["/s/a.db"]),
        noted("c1", "c", errors=["c1 is not healthy"], done=False),
        {"inventory_hostname": "d1", "etcd_cluster_group": "d"}, {"inventory_hostname": "e1"}])
    assert {name: entry["result"] for name, entry in summary.items()} == {
        "a": "done", "b": "failed", "c": "refused", "d": "refused", "etcd": "refused"}
    assert summary["d"]["errors"] == ["d1 did not report: nothing was planned or changed"]
    assert summary["a"]["downtime"] == [{"member": "a1"}, {"member": "a2"}]
    assert summary["a"]["stages"] == [{"hop": "3.5.35"}] and summary["a"]["snapshots"] == ["/s/a.db"]
    assert summary["b"]["not_through"] == ["b2"] and summary["b"]["snapshots"] == ["/s/b.db"]
    assert summary["c"]["errors"] == ["c1 is not healthy"] and summary["a"]["planned"] == ["upgrade 3.5.35"]


def test_a_run_that_misses_a_member_of_the_cluster_is_refused_naming_it():
    listed = [{"id": 11, "name": "m1"}, {"id": 12, "name": "m2"}, {"id": 13, "name": "m3"}, {"id": 14, "name": "m4"}]
    part = members("3.5.35", **{host: {"cluster_members": listed} for host in ("m1", "m2", "m3")})
    errors = rolling_preflight(part, "3.6.16", OFFERED)["errors"]
    assert len(errors) == 1 and "member list has m4" in errors[0] and "--limit" in errors[0]
    whole = members("3.5.35", **{host: {"cluster_members": listed[:3]} for host in ("m1", "m2", "m3")})
    assert rolling_preflight(whole, "3.6.16", OFFERED)["errors"] == []


def test_auth_unreadable_on_a_member_refuses_the_35_hop_only():
    unread = members("3.4.23", m3={"auth_enabled": None})
    errors = rolling_preflight(unread, "3.5.35", OFFERED)["errors"]
    assert len(errors) == 1 and errors[0].startswith("m3: whether auth is enabled could not be read")
    assert rolling_preflight(members("3.5.35", m3={"auth_enabled": None}), "3.6.16", OFFERED)["errors"] == []


def adopted(sources, version="3.4.23", settings=None):
    settings = settings or dict.fromkeys(sources, "true")
    return [dict(member, adopted_sources=sources, adopted_settings=settings, adopted_service="etcd-b")
            for member in members(version)]


def test_preflight_refuses_what_a_hops_version_removed_from_an_adopted_members_command_line():
    flag = rolling_preflight(adopted({"enable-v2": "flag", "name": "environment (ETCD_NAME)"}, "3.5.35"),
                             "3.6.16", OFFERED)
    assert any("etcd 3.6.16 refuses enable-v2=true, from the flag of etcd-b" in e for e in flag["errors"])
    variable = rolling_preflight(adopted({"enable-v2": "environment (ETCD_ENABLE_V2)"}, "3.5.35"), "3.6.16", OFFERED)
    assert variable["errors"] == []
    assert any("etcd 3.6.16 ignores enable-v2, from environment (ETCD_ENABLE_V2)" in w for w in variable["warnings"])
    experimental = rolling_preflight(adopted({"experimental-initial-corrupt-check": "flag"}, "3.6.16"), "3.7.3",
                                     OFFERED)
    assert any("refuses experimental-initial-corrupt-check" in e for e in experimental["errors"])
    # Removed in 3.5 (etcd --help compared): --debug; and a value refused whatever its source.
    old = rolling_preflight(adopted({"debug": "flag", "logger": "environment (ETCD_LOGGER)"}, "3.4.23",
                                    {"debug": "true", "logger": "capnslog"}), "3.5.35", OFFERED)
    assert len([e for e in old["errors"] if e.startswith("m1: etcd 3.5.35 refuses")]) == 2


def test_preflight_refuses_a_setting_given_twice_and_the_config_file_variable_3_3_ignored():
    twice = rolling_preflight(adopted({"name": "flag and environment (ETCD_NAME)",
                                       "config-file": "environment (ETCD_CONFIG_FILE)"}, "3.3.25"),
                              "3.4.23", OFFERED + ["3.3.25"])
    assert any("gives name both as a flag and as environment (ETCD_NAME)" in e for e in twice["errors"])
    assert any("sets ETCD_CONFIG_FILE, which 3.3 ignores" in e for e in twice["errors"])


def test_preflight_refuses_an_adopted_snapshot_count_the_hop_environment_cannot_override():
    # The 3.5 hop, followed by 3.6, runs members with snapshot-count 1 from the hop environment file.
    flag = rolling_preflight(adopted({"snapshot-count": "flag"}), "3.6.16", OFFERED)
    assert any("its settings come from the command line" in e for e in flag["errors"])
    on_file = rolling_preflight(adopted({"name": "configuration file /etc/etcd/etcd.yml"}), "3.6.16", OFFERED)
    assert any("its settings come from a configuration file" in e for e in on_file["errors"])
    by_file = rolling_preflight(adopted({"snapshot-count": "environment (ETCD_SNAPSHOT_COUNT)"}), "3.6.16", OFFERED)
    assert by_file["errors"] == [] and [hop["snapshot_count"] for hop in by_file["hops"]] == [1, 0]
    # The last hop is not followed: nothing to override.
    assert rolling_preflight(adopted({"snapshot-count": "flag"}, "3.5.35"), "3.6.16", OFFERED)["errors"] == []
