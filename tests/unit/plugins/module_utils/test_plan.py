"""The plan is a pure function: tested without etcd."""

import pytest
import semver
from hypothesis import given, strategies as st

from ansible_collections.etcdops.etcd.plugins.module_utils.plan import (
    CONVERT_TO_ETCD2, CONVERT_TO_ETCD3, DOWNGRADE_API, DOWNGRADE_SNAPSHOT, RECORD, UPGRADE, plan_migration)
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

V = semver.Version.parse
AVAILABLE = [V(v) for v in ("3.3.25", "3.4.23", "3.5.0", "3.5.16", "3.5.30", "3.5.35", "3.6.5", "3.6.16",
                            "3.7.3")]


def plan(current, target, available=AVAILABLE, **kw):
    return plan_migration(V(current), "etcd3", V(target), "etcd3", available, **kw)


def hops(result):
    return [(s.action, s.from_version, s.to_version, s.binary) for s in result.steps]


def test_upgrade_goes_through_every_minor_with_the_newest_patch():
    assert hops(plan("3.3.25", "3.7.3")) == [
        (UPGRADE, "3.3.25", "3.4.23", "3.4.23"),
        (UPGRADE, "3.4.23", "3.5.35", "3.5.35"),
        (UPGRADE, "3.5.35", "3.6.16", "3.6.16"),
        (UPGRADE, "3.6.16", "3.7.3", "3.7.3"),
    ]


def test_the_final_hop_runs_the_exact_target():
    assert hops(plan("3.4.23", "3.5.16"))[-1] == (UPGRADE, "3.4.23", "3.5.16", "3.5.16")


def test_defer_final_hop_only_records_the_target():
    assert hops(plan("3.4.23", "3.6.16", defer_final_hop=True)) == [
        (UPGRADE, "3.4.23", "3.5.35", "3.5.35"),
        (RECORD, "3.5.35", "3.6.16", None),
    ]


def test_35_below_floor_gets_a_patch_hop_first():
    assert hops(plan("3.5.16", "3.6.16")) == [
        (UPGRADE, "3.5.16", "3.5.35", "3.5.35"),
        (UPGRADE, "3.5.35", "3.6.16", "3.6.16"),
    ]


def test_35_between_floor_and_recommendation_hops_when_it_can_and_warns_when_it_cannot():
    assert hops(plan("3.5.30", "3.6.16"))[0] == (UPGRADE, "3.5.30", "3.5.35", "3.5.35")
    only_30 = [V("3.5.30"), V("3.6.16")]
    result = plan("3.5.30", "3.6.16", available=only_30)
    assert hops(result) == [(UPGRADE, "3.5.30", "3.6.16", "3.6.16")]
    assert result.warnings and "3.5.32" in result.warnings[0]


def test_35_below_floor_without_a_newer_patch_is_refused_before_anything():
    with pytest.raises(MigrationError, match=r"3\.5\.16 must reach 3\.5\.26.*install etcd 3\.5\.32"):
        plan("3.5.16", "3.6.16", available=[V("3.5.16"), V("3.6.16")])


def test_36_below_311_hops_to_a_newer_patch_before_37():
    assert hops(plan("3.6.5", "3.7.3"))[0] == (UPGRADE, "3.6.5", "3.6.16", "3.6.16")
    with pytest.raises(MigrationError, match=r"3\.6\.11"):
        plan("3.6.5", "3.7.3", available=[V("3.6.5"), V("3.7.3")])


def test_an_intermediate_minor_below_its_floor_is_refused():
    with pytest.raises(MigrationError, match=r"3\.5\.16 must reach 3\.5\.26"):
        plan("3.4.23", "3.6.16", available=[V("3.4.23"), V("3.5.16"), V("3.6.16")])


def test_a_missing_intermediate_minor_is_refused_never_skipped():
    with pytest.raises(MigrationError, match=r"no etcd 3\.5 binary.*minors cannot be skipped"):
        plan("3.4.23", "3.6.16", available=[V("3.4.23"), V("3.6.16")])


def test_a_missing_target_binary_is_named():
    with pytest.raises(MigrationError, match=r"etcd 3\.7\.9 is needed \(the target\)"):
        plan("3.6.16", "3.7.9")


def test_downgrades_use_the_downgrade_api_from_36_and_snapshots_below():
    assert hops(plan("3.7.3", "3.6.16")) == [(DOWNGRADE_API, "3.7.3", "3.6.16", "3.6.16")]
    assert hops(plan("3.6.16", "3.5.35")) == [(DOWNGRADE_API, "3.6.16", "3.5.35", "3.5.35")]
    assert hops(plan("3.5.35", "3.4.23")) == [(DOWNGRADE_SNAPSHOT, "3.5.35", "3.4.23", "3.4.23")]
    assert plan("3.5.35", "3.4.23").steps[0].tool == "3.5.35"


def test_the_current_minor_is_run_by_a_newer_patch_when_its_own_is_missing():
    assert plan("3.5.31", "3.4.23").steps[0].tool == "3.5.35"
    with pytest.raises(MigrationError, match=r"etcd 3\.5\.36 \(or a newer 3\.5 patch\)"):
        plan("3.5.36", "3.4.23")


def test_downgrading_more_than_one_minor_is_refused():
    with pytest.raises(MigrationError, match=r"more than one minor below.*migrate to 3\.6 first"):
        plan("3.7.3", "3.5.35")


def test_patch_changes_only_record_the_version():
    assert hops(plan("3.5.30", "3.5.35")) == [(RECORD, "3.5.30", "3.5.35", None)]
    assert hops(plan("3.5.35", "3.5.0", available=[])) == [(RECORD, "3.5.35", "3.5.0", None)]


def test_at_target_there_is_nothing_to_do():
    assert plan("3.5.35", "3.5.35").steps == []


def test_empty_data_only_records_the_target():
    result = plan_migration(None, None, V("3.6.16"), "etcd3", [], empty=True)
    assert hops(result) == [(RECORD, "3.6.16", "3.6.16", None)]


def test_etcd2_data_is_converted_first_then_upgraded():
    result = plan_migration(V("3.3.25"), "etcd2", V("3.5.35"), "etcd3", AVAILABLE)
    assert [(s.action, s.binary, s.storage) for s in result.steps] == [
        (CONVERT_TO_ETCD3, "3.3.25", "etcd3"), (UPGRADE, "3.4.23", "etcd3"), (UPGRADE, "3.5.35", "etcd3")]


def test_etcd2_targets_convert_last_with_the_target_binary():
    result = plan_migration(V("3.3.25"), "etcd3", V("3.4.23"), "etcd2", AVAILABLE)
    assert [(s.action, s.binary, s.storage) for s in result.steps] == [
        (UPGRADE, "3.4.23", "etcd3"), (CONVERT_TO_ETCD2, "3.4.23", "etcd2")]
    back = plan_migration(V("3.4.23"), "etcd2", V("3.4.23"), "etcd3", AVAILABLE)
    assert [(s.action, s.binary) for s in back.steps] == [(CONVERT_TO_ETCD3, "3.4.23")]


def test_what_etcd2_cannot_do_is_refused_with_the_way_out():
    with pytest.raises(MigrationError, match="3.6.16 has no v2 store.*3.5 or older"):
        plan_migration(V("3.5.35"), "etcd3", V("3.6.16"), "etcd2", AVAILABLE)
    with pytest.raises(MigrationError, match="etcdctl migrate' was removed in 3.5.*etcd 3.4"):
        plan_migration(V("3.5.16"), "etcd2", V("3.5.35"), "etcd3", AVAILABLE)


VERSIONS = st.builds(lambda minor, patch: V("3.%d.%d" % (minor, patch)),
                     st.integers(min_value=0, max_value=7), st.integers(min_value=0, max_value=40))


@given(current=VERSIONS, target=VERSIONS, available=st.lists(VERSIONS, max_size=25))
def test_every_plan_is_a_chain_of_single_minor_hops_respecting_floors(current, target, available):
    try:
        result = plan_migration(current, "etcd3", target, "etcd3", available)
    except MigrationError:
        return
    steps = result.steps
    if current == target:
        assert steps == []
        return
    assert steps[0].from_version == str(current) and steps[-1].to_version == str(target)
    for before, after in zip(steps, steps[1:]):
        assert before.to_version == after.from_version
    for step in steps:
        start, end = step.from_version, step.to_version
        assert abs(end.minor - start.minor) <= 1
        if step.binary:
            assert step.binary in available
        if end.minor == start.minor + 1 and (start.minor, end.minor) == (5, 6):
            assert start >= V("3.5.26")
        if end.minor == start.minor + 1 and (start.minor, end.minor) == (6, 7):
            assert start >= V("3.6.11")
