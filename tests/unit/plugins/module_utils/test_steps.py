"""The steps through their seams (the data dir and the etcd binaries), without etcd.

What etcd does is proven in tests/integration on real binaries; here: what the steps ask of it, in which
order, and what they refuse.
"""

import pytest
import semver

from ansible_collections.etcdops.etcd.plugins.module_utils.engine import validate
from ansible_collections.etcdops.etcd.plugins.module_utils.plan import DOWNGRADE_API, UPGRADE, Step
from ansible_collections.etcdops.etcd.plugins.module_utils.steps import StepRunner
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

V = semver.Version.parse
IDS = (0x8E9E05C52164694D, 0xCDF818194E3A8C32)


class FakeDataDir:
    """A member's data as the steps read it: its IDs and what the next minors think of it."""

    def __init__(self, readiness=None):
        self.path, self.wal_dir = "/nonexistent/data", None
        self.readiness = readiness or {}
        self.replaced = []

    def member_ids(self):
        return IDS

    def ready_for_next(self):
        return self.readiness

    def replace_member(self, source):
        self.replaced.append(source)


class FakeMember:
    """A started etcd as the steps see it; every call is written to the shared journal."""

    def __init__(self, journal, version, settings, ids=IDS, storage=None):
        self.journal, self.version, self.settings, self.ids = journal, version, settings, ids
        self.client_url = "http://127.0.0.1:%d" % settings["client_port"]
        self.storage = storage

    def __enter__(self):
        self.journal.append(("start", str(self.version), self.settings.get("snapshot_count")))
        return self

    def __exit__(self, *exc):
        self.journal.append(("stop", str(self.version)))

    def wait_ready(self, timeout, cluster_version=None, storage_version=None, condition=None, what=None):
        self.journal.append(("wait", cluster_version, storage_version, what))
        if condition is not None:
            assert condition(self), what
        return {"etcdcluster": cluster_version}

    def status(self):
        return {"header": {"member_id": self.ids[0], "cluster_id": self.ids[1]}, "storageVersion": self.storage,
                "downgradeInfo": {"enabled": False}}

    def ctl(self, *args):
        self.journal.append(("etcdctl",) + args)

    def force_snapshot(self, timeout):
        self.journal.append(("snapshot",))


class FakeEtcd:
    """The etcd binaries seam: members that answer with ``ids``."""

    def __init__(self, ids=IDS):
        self.journal, self.ids = [], ids

    def member(self, version, data_dir, log_path, **settings):
        # As etcd's leader at the first commit of a term: a member started after `downgrade enable` has moved
        # the storage to the target (the member that took the call would wait up to 4s).
        enabled = [entry[3] for entry in self.journal if entry[:3] == ("etcdctl", "downgrade", "enable")]
        storage = "%s.0" % enabled[-1] if enabled else "%d.%d.0" % (version.major, version.minor)
        return FakeMember(self.journal, version, settings, self.ids, storage=storage)


def runner(tmp_path, data_dir=None, etcd=None, **params):
    options = validate(dict({"data_dir": str(tmp_path), "target_version": "3.6.16", "client_port": 24000,
                             "listen_peer_urls": "http://127.0.0.1:24001"}, **params))
    return StepRunner(data_dir or FakeDataDir(), etcd or FakeEtcd(), str(tmp_path), options, str(tmp_path))


def test_an_upgrade_hop_on_35_snapshots_and_checks_the_next_minor(tmp_path):
    steps = runner(tmp_path)
    steps.run(Step(UPGRADE, V("3.4.23"), V("3.5.35"), V("3.5.35"), None, "etcd3"))
    assert steps.etcd.journal == [("start", "3.5.35", 1), ("wait", "3.5.0", None, None), ("snapshot",),
                                  ("stop", "3.5.35")]


def test_an_upgrade_hop_on_36_waits_for_the_storage_version_too(tmp_path):
    steps = runner(tmp_path)
    steps.run(Step(UPGRADE, V("3.5.35"), V("3.6.16"), V("3.6.16"), None, "etcd3"))
    assert ("wait", "3.6.0", "3.6.0", None) in steps.etcd.journal


def test_data_the_next_minor_refuses_stops_the_hop_with_its_blockers(tmp_path):
    blocked = FakeDataDir({"3.6": {"ready": False, "blockers": ["the newest .snap holds custom v2 data"]}})
    steps = runner(tmp_path, data_dir=blocked)
    with pytest.raises(MigrationError, match="not ready for etcd 3.6: the newest .snap holds custom v2 data"):
        steps.run(Step(UPGRADE, V("3.4.23"), V("3.5.35"), V("3.5.35"), None, "etcd3"))


def test_what_only_a_minor_past_the_target_refuses_is_a_note(tmp_path):
    blocked = FakeDataDir({"3.6": {"ready": False, "blockers": ["the newest .snap holds custom v2 data"]}})
    steps = runner(tmp_path, data_dir=blocked, target_version="3.5.35")
    steps.run(Step(UPGRADE, V("3.4.23"), V("3.5.35"), V("3.5.35"), None, "etcd3"))
    assert steps.notes == ["the data is not ready for etcd 3.6: the newest .snap holds custom v2 data"]


def test_the_downgrade_api_validates_enables_restarts_then_starts_the_target(tmp_path):
    steps = runner(tmp_path)
    steps.run(Step(DOWNGRADE_API, V("3.6.16"), V("3.5.35"), V("3.5.35"), V("3.6.16"), "etcd3"))
    journal = steps.etcd.journal
    assert [entry for entry in journal if entry[0] in ("start", "etcdctl", "stop")] == [
        ("start", "3.6.16", None), ("etcdctl", "downgrade", "validate", "3.5"),
        ("etcdctl", "downgrade", "enable", "3.5"), ("stop", "3.6.16"),
        ("start", "3.6.16", None), ("stop", "3.6.16"), ("start", "3.5.35", None), ("stop", "3.5.35")]
    assert ("wait", "3.5.0", None, "storage version 3.5.0") in journal


@pytest.mark.parametrize("server_extra_args,first", [
    ([], ["--heartbeat-interval=10", "--election-timeout=100"]),
    (["--log-level=warn"], ["--heartbeat-interval=10", "--election-timeout=100", "--log-level=warn"]),
    (["-heartbeat-interval", "300"], ["-heartbeat-interval", "300"]),
    (["--election-timeout=5000"], ["--election-timeout=5000"]),
])
def test_the_downgrades_members_elect_quickly_unless_server_extra_args_time_elections(
        tmp_path, server_extra_args, first):
    extra_args = []

    class Recording(FakeEtcd):
        def member(self, version, data_dir, log_path, **settings):
            extra_args.append((str(version), settings["extra_args"]))
            return super().member(version, data_dir, log_path, **settings)

    steps = runner(tmp_path, etcd=Recording(), server_extra_args=server_extra_args)
    steps.run(Step(DOWNGRADE_API, V("3.7.3"), V("3.6.16"), V("3.6.16"), V("3.7.3"), "etcd3"))
    assert extra_args == [("3.7.3", first), ("3.7.3", first), ("3.6.16", first + ["--downgrade-check-time=100ms"])]


def test_a_member_of_other_data_is_refused_by_its_ids(tmp_path):
    steps = runner(tmp_path, etcd=FakeEtcd(ids=(1, 2)))
    with pytest.raises(MigrationError, match="reports member 1 of cluster 2, but the data holds member %x" % IDS[0]):
        steps.run(Step(UPGRADE, V("3.4.23"), V("3.5.35"), V("3.5.35"), None, "etcd3"))


def test_the_temporary_member_gets_the_modules_settings(tmp_path):
    seen = []

    class Recording(FakeEtcd):
        def member(self, version, data_dir, log_path, **settings):
            seen.append((data_dir, settings))
            return super().member(version, data_dir, log_path, **settings)

    steps = runner(tmp_path, etcd=Recording())
    steps.run(Step(UPGRADE, V("3.4.23"), V("3.5.35"), V("3.5.35"), None, "etcd3"))
    data_dir, settings = seen[0]
    assert data_dir == "/nonexistent/data"
    assert settings["client_port"] == 24000 and settings["listen_peer_urls"] == "http://127.0.0.1:24001"
    assert settings["name"] == "default" and settings["snapshot_count"] == 1
