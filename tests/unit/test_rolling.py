"""Hops of a rolling change of a running cluster: pure, shared with etcd_migrate's plan."""

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.rolling import rolling_hops
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

OFFERED = ["3.4.23", "3.5.16", "3.5.35", "3.6.5", "3.6.16", "3.7.3"]


def test_upgrade_rolls_every_minor_with_the_newest_patch():
    assert rolling_hops(["3.4.23"] * 3, "3.7.3", OFFERED) == [
        {"version": "3.5.35", "action": "upgrade"}, {"version": "3.6.16", "action": "upgrade"},
        {"version": "3.7.3", "action": "upgrade"}]


def test_patch_floors_add_a_patch_hop_first():
    assert rolling_hops(["3.5.16"] * 3, "3.6.16", OFFERED)[0] == {"version": "3.5.35", "action": "upgrade"}
    assert rolling_hops(["3.6.5"] * 3, "3.7.3", OFFERED)[0] == {"version": "3.6.16", "action": "upgrade"}


def test_a_patch_change_is_still_rolled():
    assert rolling_hops(["3.5.16"] * 3, "3.5.35", OFFERED) == [{"version": "3.5.35", "action": "upgrade"}]


def test_downgrade_uses_the_api_from_36_and_refuses_below_with_the_offline_path():
    assert rolling_hops(["3.7.3"] * 3, "3.6.16", OFFERED) == [{"version": "3.6.16", "action": "downgrade"}]
    with pytest.raises(MigrationError, match="cannot be downgraded in place.*Offline path.*etcd_migrate"):
        rolling_hops(["3.5.35"] * 3, "3.4.23", OFFERED)


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
