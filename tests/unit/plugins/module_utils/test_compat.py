"""etcd's per-minor rules: where each starts, and that each names its upstream source."""

import re

import semver

from ansible_collections.etcdops.etcd.plugins.module_utils import compat

V = semver.Version.parse


def test_every_rule_names_its_upstream_source():
    rules = [value for value in vars(compat).values() if isinstance(value, compat.Rule)]
    assert len(rules) >= 10
    for rule in rules:
        assert re.match(r"^(etcd@release-3\.\d|website:v3\.\d|CHANGELOG-3\.\d)", rule.source), rule


def test_the_v2_api_needs_its_flag_from_34():
    assert compat.v2_api_flags(V("3.3.25")) == []
    assert compat.v2_api_flags(V("3.4.23")) == ["--enable-v2=true"]


def test_settings_a_version_refuses():
    extra = {"experimental-initial-corrupt-check": True, "max-learners": 2}
    assert compat.rejected_settings(V("3.5.35"), extra) == []
    assert compat.rejected_settings(V("3.6.16"), extra) == ["enable-v2"]
    assert compat.rejected_settings(V("3.7.3"), extra) == ["enable-v2", "experimental-initial-corrupt-check"]


def test_a_hop_crosses_a_rule_only_when_it_enters_its_minor():
    assert compat.crosses(compat.V2_API_REMOVED, V("3.5.35"), V("3.6.0"))
    assert not compat.crosses(compat.V2_API_REMOVED, V("3.6.0"), V("3.7.3"))
    assert not compat.crosses(compat.V2_API_REMOVED, V("3.7.3"), V("3.6.16"))


def test_only_36_and_later_get_the_downgrade_check_interval():
    assert compat.downgrade_check_flags(V("3.5.35")) == []
    assert compat.downgrade_check_flags(V("3.6.16")) == ["--downgrade-check-time=100ms"]
    assert compat.downgrade_check_flags(V("3.7.3")) == ["--downgrade-check-time=100ms"]
