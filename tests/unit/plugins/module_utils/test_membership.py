"""A member of a multi-member cluster: record-only one minor up, else refused with the way that works."""

import pytest
import semver

from ansible_collections.etcdops.etcd.plugins.module_utils.membership import record_only_plan
from ansible_collections.etcdops.etcd.plugins.module_utils.plan import RECORD
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

V = semver.Version.parse
AVAILABLE = [V(v) for v in ("3.4.23", "3.5.16", "3.5.30", "3.5.35", "3.6.16", "3.7.3")]
READY = {"3.6": {"ready": True, "blockers": []}, "3.7": {"ready": True, "blockers": []}}


def decide(current, target, readiness=None, storage="etcd3", target_storage="etcd3", members=3):
    return record_only_plan(members, V(current), storage, V(target), target_storage, readiness or READY, AVAILABLE)


def test_one_minor_up_only_records_the_target_and_says_so():
    plan = decide("3.4.23", "3.5.16")
    assert [(s.action, s.from_version, s.to_version, s.binary, s.storage) for s in plan.steps] == [
        (RECORD, "3.4.23", "3.5.16", None, "etcd3")]
    assert len(plan.warnings) == 1 and "etcd 3.5.16 does the hop itself" in plan.warnings[0]


def test_a_patch_change_is_a_plain_record():
    assert [(s.action, s.to_version) for s in decide("3.5.16", "3.5.30").steps] == [(RECORD, "3.5.30")]
    assert decide("3.5.16", "3.5.0").warnings == []


def test_the_running_minor_must_be_at_its_patch_floor():
    with pytest.raises(MigrationError, match=r"runs etcd 3\.5\.16, below 3\.5\.26.*restart it on etcd 3\.5\.35 first"):
        decide("3.5.16", "3.6.16")
    with pytest.raises(MigrationError, match=r"below 3\.6\.11.*restart it on etcd 3\.6\.16 first"):
        decide("3.6.5", "3.7.3")


def test_between_floor_and_recommended_patch_warns():
    plan = decide("3.5.30", "3.6.16")
    assert plan.steps[0].action == RECORD
    assert any("below 3.5.32, which upstream recommends" in w for w in plan.warnings)
    assert len(decide("3.5.35", "3.6.16").warnings) == 1


def test_data_not_ready_for_the_next_minor_is_refused_with_the_blockers():
    blocked = dict(READY, **{"3.6": {"ready": False, "blockers": ["the newest .snap holds custom v2 data"]}})
    with pytest.raises(MigrationError, match="not ready for etcd 3.6: the newest .snap holds custom v2 data"):
        decide("3.5.35", "3.6.16", readiness=blocked)
    assert decide("3.4.23", "3.5.35", readiness=blocked).steps  # 3.6's blockers do not concern 3.5


def test_more_than_one_minor_names_both_ways():
    with pytest.raises(MigrationError) as err:
        decide("3.4.23", "3.6.16")
    assert "playbooks/upgrade.yml" in str(err.value) and "restart each member on 3.5 first" in str(err.value)


def test_downgrades_and_storage_changes_are_refused():
    with pytest.raises(MigrationError, match="cannot go down from 3.5.35 to 3.4.23.*playbooks/upgrade.yml"):
        decide("3.5.35", "3.4.23")
    with pytest.raises(MigrationError, match="cannot change its storage from etcd2 to etcd3"):
        decide("3.4.23", "3.4.23", storage="etcd2")
    with pytest.raises(MigrationError, match="cannot change its storage from etcd3 to etcd2"):
        decide("3.4.23", "3.5.35", target_storage="etcd2")
