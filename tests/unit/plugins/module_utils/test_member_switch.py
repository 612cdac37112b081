# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The switch's order and its way back, on real files, with systemctl and etcdctl answered by a script.

What etcd does across the switch is proven on real members in the rolling molecule scenario; here the question is
only what the action does to the host's files and in which order it calls the service manager.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.member_switch import (
    BACK, BEFORE, FORWARD, REFUSE, ClientAccess, MemberSwitch, SwitchFailed, raft_lag)


class Host:
    """Records every command; ``healthy_after`` health checks answer healthy (None: never)."""

    def __init__(self, tmp_path, healthy_after=1, check_rc=0, healthy_again=True):
        self.calls, self.health_checks = [], 0
        self.healthy_after, self.check_rc, self.healthy_again = healthy_after, check_rc, healthy_again
        self.now = 0.0
        self.started = 0
        self.tmp_path = tmp_path
        self.live_config_at_start = []

    def run(self, argv, environ=None):
        self.calls.append(argv[0] if argv[0] in ("systemctl", "journalctl", "etcdctl") else "check")
        if argv[0] == "systemctl":
            self.calls[-1] = "systemctl " + " ".join(argv[1:])
            if argv[1] == "start":
                self.started += 1
                self.live_config_at_start.append((self.tmp_path / "etcd.conf.yml").read_text())
            return 0, "", ""
        if argv[0] == "etcdctl":
            self.health_checks += 1
            self.now += 0.1
            if self.started > 1:
                return (0, "healthy", "") if self.healthy_again else (1, "", "unhealthy")
            if self.healthy_after is not None and self.health_checks >= self.healthy_after:
                return 0, "127.0.0.1:2379 is healthy", ""
            return 1, "", "context deadline exceeded"
        if argv[0] == "journalctl":
            return 0, "etcd said something\n", ""
        return self.check_rc, "", "custom v2 content found" if self.check_rc else ""

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def member(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "version.txt").write_text("3.5.30/etcd3")
    (tmp_path / "etcd.conf.yml").write_text("old config")
    (tmp_path / "etcd.conf.yml.next").write_text("new config")
    (tmp_path / "etcd.service").write_text("old unit")
    (tmp_path / "etcd.service.next").write_text("new unit")
    return tmp_path


def switch_for(member, host, check=None, timeout=1.0):
    files = [dict(src=str(member / name) + ".next", dest=str(member / name)) for name in ("etcd.conf.yml", "etcd.service")]
    return MemberSwitch(host.run, "etcd", str(member / "data"), "3.6.16", files, ClientAccess("etcdctl", "http://x"),
                        timeout, 0.1, check_command=check, check_advice="Delete the v2 keys.", clock=host.clock,
                        sleep=host.sleep)


def test_switch_with_a_check_stops_checks_swaps_records_and_starts_in_that_order(member):
    host = Host(member, healthy_after=3)
    result = switch_for(member, host, check=["etcdutl", "check", "v2store"]).switch()

    # systemd gets the new unit only once the check has passed
    assert host.calls == ["systemctl stop etcd", "check", "systemctl daemon-reload", "systemctl start etcd",
                          "etcdctl", "etcdctl", "etcdctl"]
    assert host.live_config_at_start == ["new config"]
    assert (member / "etcd.service").read_text() == "new unit"
    assert (member / "data" / "version.txt").read_text() == "3.6.16/etcd3"
    assert sorted(p.name for p in member.rglob("*")) == ["data", "etcd.conf.yml", "etcd.service", "version.txt"]
    assert result["previous_version"] == "3.5.30" and not result["rolled_back"]
    # three health checks of 0.1 s with two polls of 0.1 s between them
    assert result["downtime"] == pytest.approx(0.5)


def test_switch_without_a_check_swaps_and_reloads_while_the_member_still_serves(member):
    host = Host(member, healthy_after=1)
    result = switch_for(member, host).switch()

    # the outage is only the stop, the record, the start and the poll
    assert host.calls == ["systemctl daemon-reload", "systemctl stop etcd", "systemctl start etcd", "etcdctl"]
    assert host.live_config_at_start == ["new config"]
    assert (member / "data" / "version.txt").read_text() == "3.6.16/etcd3"
    assert sorted(p.name for p in member.rglob("*")) == ["data", "etcd.conf.yml", "etcd.service", "version.txt"]
    assert result["downtime"] == pytest.approx(0.1)


def test_a_failed_check_starts_the_previous_version_with_its_files_back(member):
    host = Host(member, check_rc=1)
    with pytest.raises(SwitchFailed) as failed:
        switch_for(member, host, check=["etcdutl", "check", "v2store"]).switch()

    assert failed.value.rolled_back
    assert "custom v2 content found" in str(failed.value) and "Delete the v2 keys." in str(failed.value)
    assert "etcd 3.5.30 serves again" in str(failed.value)
    assert host.live_config_at_start == ["old config"]
    assert (member / "data" / "version.txt").read_text() == "3.5.30/etcd3"
    assert (member / "etcd.service").read_text() == "old unit"
    assert not list(member.glob("*.previous"))  # nothing blocks the next attempt (which renders its files again)
    assert host.calls[:2] == ["systemctl stop etcd", "check"]
    assert "systemctl daemon-reload" not in host.calls  # nothing was swapped


def test_a_member_that_never_answers_goes_back_to_its_previous_files_and_version(member):
    host = Host(member, healthy_after=None)
    with pytest.raises(SwitchFailed) as failed:
        switch_for(member, host, timeout=0.5).switch()

    assert failed.value.rolled_back
    assert "did not become healthy within 0.5s: context deadline exceeded" in str(failed.value)
    assert host.live_config_at_start == ["new config", "old config"]
    assert (member / "etcd.service").read_text() == "old unit"
    assert (member / "data" / "version.txt").read_text() == "3.5.30/etcd3"
    assert not list(member.glob("*.previous"))
    assert host.calls.count("systemctl daemon-reload") == 2
    assert failed.value.result["journal"] == ["etcd said something"]


def test_a_way_back_that_fails_says_so(member):
    host = Host(member, healthy_after=None, healthy_again=False)
    with pytest.raises(SwitchFailed) as failed:
        switch_for(member, host, timeout=0.3).switch()

    assert not failed.value.rolled_back
    assert "Starting 3.5.30 again with its files back in place failed too" in str(failed.value)
    assert (member / "etcd.conf.yml").read_text() == "old config"


def test_a_bare_restart_rewrites_nothing(member):
    host = Host(member)
    version = member / "data" / "version.txt"
    version.write_text("3.6.16/etcd3")
    before = version.stat().st_mtime_ns
    switch = MemberSwitch(host.run, "etcd", str(member / "data"), "3.6.16", [], ClientAccess("etcdctl", "http://x"),
                          1.0, 0.1, clock=host.clock, sleep=host.sleep)
    switch.switch()

    assert host.calls == ["systemctl stop etcd", "systemctl start etcd", "etcdctl"]
    assert version.stat().st_mtime_ns == before


def test_the_health_check_ignores_an_inherited_etcdctl_environment(monkeypatch):
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", "https://elsewhere:2379")
    monkeypatch.setenv("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true")
    environ = ClientAccess("etcdctl", "https://127.0.0.1:2379", ca_file="/ca", cert_file="/c", key_file="/k",
                           user="root", password="secret").environment()

    assert environ["ETCDCTL_ENDPOINTS"] == "https://127.0.0.1:2379"
    assert "ETCDCTL_INSECURE_SKIP_TLS_VERIFY" not in environ
    assert (environ["ETCDCTL_CACERT"], environ["ETCDCTL_CERT"], environ["ETCDCTL_KEY"]) == ("/ca", "/c", "/k")
    assert environ["ETCDCTL_USER"] == "root:secret"


def test_what_would_go_wrong_after_the_stop_is_refused_before_it(member):
    (member / "etcd.service.previous").write_text("left by a killed switch")
    (member / "etcd.conf.yml").unlink()
    (member / "etcd.conf.yml").symlink_to(member / "etcd.service")
    (member / "etcd.service.next").unlink()
    host = Host(member)
    switch = switch_for(member, host)
    switch.owner = "no-such-user-here"

    problems = switch.problems()

    assert any("etcd.conf.yml is a symlink" in p for p in problems)
    assert any("etcd.service.next is missing" in p for p in problems)
    assert any("no such user or group" in p for p in problems)
    assert host.calls == []
    # a copy without the switch's marker was not left by this switch: a person compares
    plan, found = switch.recovery()
    assert plan == REFUSE and "etcd.service.previous left without" in found and "compare" in found
    # check mode has no prepared files: only what the host itself says
    assert not any("missing" in p for p in switch.problems(check_mode=True))


def test_an_error_in_the_swap_puts_the_files_back_without_stopping_the_member(member):
    host = Host(member)
    switch = switch_for(member, host)
    # the second prepared file cannot go in (it vanished after the checks), after the first one did
    (member / "etcd.service.next").unlink()
    with pytest.raises(SwitchFailed) as failed:
        switch.switch()

    assert not failed.value.rolled_back
    assert "failed before the stop" in str(failed.value) and "FileNotFoundError" in str(failed.value)
    assert "the member was not stopped by this switch" in str(failed.value)
    assert (member / "etcd.conf.yml").read_text() == "old config"
    assert not [call for call in host.calls if call.startswith("systemctl stop")]
    assert not list(member.glob("*.previous")) and not (member / "data" / "version.txt.previous").exists()


def test_any_error_after_the_stop_takes_the_way_back(member):
    host = Host(member)
    switch = switch_for(member, host)

    write_record = switch._record  # pylint: disable=protected-access

    def record(content):
        if content.startswith("3.6.16"):
            raise OSError(28, "No space left on device")
        write_record(content)

    switch._record = record  # pylint: disable=protected-access  # version.txt cannot be written: a full disk
    with pytest.raises(SwitchFailed) as failed:
        switch.switch()

    assert failed.value.rolled_back
    assert "No space left on device" in str(failed.value)
    assert (member / "etcd.conf.yml").read_text() == "old config"
    assert (member / "etcd.service").read_text() == "old unit"
    assert host.live_config_at_start == ["old config"]
    assert host.calls.count("systemctl stop etcd") == 2 and host.calls.count("systemctl start etcd") == 1
    assert not list(member.glob("*.previous"))


def failing(host, command, answer):
    """``host.run`` where ``systemctl <command>`` fails with ``answer``."""
    def run(argv, environ=None):
        if argv[:2] == ["systemctl", command]:
            host.calls.append(" ".join(argv))
            return 1, "", answer
        return host.run(argv, environ)
    return run


def test_a_stop_that_fails_puts_the_files_back(member):
    host = Host(member)
    switch = switch_for(member, host)
    switch.run = failing(host, "stop", "Job for etcd.service canceled")
    with pytest.raises(SwitchFailed) as failed:
        switch.switch()

    assert "systemctl stop etcd failed (rc 1): Job for etcd.service canceled" in str(failed.value)
    assert "The previous files are back; the member was not stopped by this switch" in str(failed.value)
    assert (member / "etcd.conf.yml").read_text() == "old config" and (member / "etcd.service").read_text() == "old unit"
    assert host.calls == ["systemctl daemon-reload", "systemctl stop etcd", "systemctl daemon-reload"]
    assert (member / "data" / "version.txt").read_text() == "3.5.30/etcd3"


def test_a_way_back_that_cannot_stop_the_new_version_leaves_the_files_and_says_so(member):
    host = Host(member, healthy_after=None)
    stops = []

    def run(argv, environ=None):
        if argv[:2] == ["systemctl", "stop"]:
            stops.append(argv)
            if len(stops) > 1:
                return 1, "", "Job for etcd.service canceled"
        return host.run(argv, environ)

    switch = switch_for(member, host, timeout=0.3)
    switch.run = run
    with pytest.raises(SwitchFailed) as failed:
        switch.switch()

    assert not failed.value.rolled_back
    assert "Stopping it to put the previous version back failed too" in str(failed.value)
    assert (member / "etcd.conf.yml").read_text() == "new config"
    assert (member / "etcd.conf.yml.previous").read_text() == "old config"


def test_a_way_back_removes_a_version_record_the_switch_made(member):
    (member / "data" / "version.txt").unlink()
    host = Host(member, healthy_after=None)
    with pytest.raises(SwitchFailed):
        switch_for(member, host, timeout=0.3).switch()

    assert not (member / "data" / "version.txt").exists()


def test_systemd_reads_the_new_unit_before_version_txt_names_the_new_version(member):
    host = Host(member)
    seen = []

    def run(argv, environ=None):
        if argv[:2] == ["systemctl", "daemon-reload"]:
            seen.append((member / "data" / "version.txt").read_text())
        return host.run(argv, environ)

    switch = switch_for(member, host)
    switch.run = run
    switch.switch()

    assert seen == ["3.5.30/etcd3"]


# -- an interrupted switch: what the next run finds on disk and how it converges ------------------------------------

def interrupted(member, marker="forward", copies=(), swapped=(), consumed=(), record="3.5.30/etcd3", target="3.6.16"):
    """The disk as a killed switch from 3.5.30 to ``target`` leaves it: the marker and its direction (None: no
    marker), the ``copies`` made, the files ``swapped`` in, the prepared files ``consumed`` (moved in, or gone with
    the way back), version.txt's ``record``."""
    if marker is not None:
        (member / "data" / "version.txt.previous").write_text(json.dumps(
            dict(target=target, previous="3.5.30/etcd3", direction=marker)))
    for name in copies:
        (member / (name + ".previous")).write_text((member / name).read_text())
    for name in swapped:
        (member / name).write_text((member / (name + ".next")).read_text())
    for name in consumed:
        (member / (name + ".next")).unlink()
    (member / "data" / "version.txt").write_text(record)


BOTH = ("etcd.conf.yml", "etcd.service")


@pytest.mark.parametrize("state, plan, named", [
    (dict(marker=None), None, ""),
    (dict(), BEFORE, "before the swap"),  # killed after the marker, before the first copy
    (dict(copies=BOTH[:1]), BEFORE, "before the swap"),  # between the copies
    (dict(copies=BOTH), BEFORE, "before the swap"),  # after the copies, the stop or the check
    (dict(copies=BOTH, swapped=BOTH[:1], consumed=BOTH[:1]), FORWARD, "after swapping {conf}"),  # mid swap
    (dict(copies=BOTH, swapped=BOTH, consumed=BOTH), FORWARD, "after swapping {conf}, {unit}"),  # before version.txt
    (dict(copies=BOTH, swapped=BOTH, consumed=BOTH, record="3.6.16/etcd3"), FORWARD, "after swapping"),  # unhealthy?
    (dict(copies=BOTH, swapped=BOTH, record="3.6.16/etcd3"), FORWARD, "after swapping"),  # prepared again by the role
    (dict(copies=BOTH[1:], swapped=BOTH, consumed=BOTH, record="3.6.16/etcd3"), FORWARD, "after swapping {unit}"),
    (dict(swapped=BOTH, consumed=BOTH, record="3.6.16/etcd3"), FORWARD, "while dropping its copies"),
    (dict(copies=BOTH, swapped=BOTH[1:], consumed=BOTH, record="3.6.16/etcd3", marker="back"), BACK,
     "way back to 3.5.30"),
    (dict(copies=BOTH, consumed=BOTH, record="3.6.16/etcd3", marker="back"), BACK, "way back to 3.5.30"),
    (dict(copies=BOTH, marker="back"), BACK, "way back to 3.5.30"),  # killed as the way back began
    # Both files the same before and after the switch (their prepared files moved in): forward, never back.
    (dict(copies=BOTH, consumed=BOTH, record="3.6.16/etcd3"), FORWARD, "after recording it"),
])
def test_the_next_run_reads_which_side_of_the_swap_the_kill_was_on(member, state, plan, named):
    interrupted(member, **state)
    found_plan, found = switch_for(member, Host(member)).recovery()

    assert found_plan == plan
    assert named.format(conf=member / "etcd.conf.yml", unit=member / "etcd.service") in found


def test_a_configuration_the_same_on_both_sides_decides_nothing_once_the_new_version_ran(member):
    """A patch hop often changes the unit only: after the start, the configuration equals its copy and its prepared
    file is gone; the new version may have opened the data, so the re-run goes forward, not back."""
    (member / "etcd.conf.yml.next").write_text("old config")
    interrupted(member, copies=BOTH, swapped=BOTH, consumed=BOTH, record="3.6.16/etcd3")
    plan, found = switch_for(member, Host(member)).recovery()
    assert plan == FORWARD and str(member / "etcd.service") in found


def test_an_interrupted_switch_to_another_version_is_refused_not_finished_as_this_one(member):
    interrupted(member, copies=BOTH, swapped=BOTH, consumed=BOTH, target="3.6.15")
    plan, found = switch_for(member, Host(member)).recovery()
    assert plan == REFUSE and "a switch to 3.6.15 was interrupted, not one to 3.6.16" in found

    (member / "data" / "version.txt.previous").write_text("3.5.30/etcd3")  # not a marker this module writes
    plan, found = switch_for(member, Host(member)).recovery()
    assert plan == REFUSE and "is not a switch's marker" in found


def test_what_cannot_be_decided_stays_refused_naming_the_files(member):
    interrupted(member, copies=BOTH)
    (member / "etcd.conf.yml").write_text("edited by hand")
    plan, found = switch_for(member, Host(member)).recovery()
    assert plan == REFUSE
    assert "{0} is neither its previous content {0}.previous nor the prepared {0}.next".format(
        member / "etcd.conf.yml") in found

    (member / "etcd.conf.yml").write_text("old config")
    (member / "data" / "version.txt").write_text("3.7.3/etcd3")
    plan, found = switch_for(member, Host(member)).recovery()
    assert plan == REFUSE and "names '3.7.3/etcd3', neither '3.5.30/etcd3'" in found


def test_forward_finishes_the_swap_and_leaves_nothing_behind(member):
    interrupted(member, copies=BOTH, swapped=BOTH[:1], consumed=BOTH[:1])
    host = Host(member)
    switch = switch_for(member, host, check=["etcdutl", "check", "v2store"])
    plan, _found = switch.recovery()
    assert switch.problems(plan=plan) == []
    switch.switch(plan)

    # version.txt still names 3.5.30, written before any start of the new version: the check still runs
    assert host.calls == ["systemctl stop etcd", "check", "systemctl daemon-reload", "systemctl start etcd", "etcdctl"]
    assert host.live_config_at_start == ["new config"]
    assert (member / "etcd.service").read_text() == "new unit"
    assert (member / "data" / "version.txt").read_text() == "3.6.16/etcd3"
    assert sorted(p.name for p in member.rglob("*")) == ["data", "etcd.conf.yml", "etcd.service", "version.txt"]


def test_forward_after_the_record_skips_the_check_the_new_version_may_have_opened_the_data(member):
    interrupted(member, copies=BOTH, swapped=BOTH, consumed=BOTH, record="3.6.16/etcd3")
    host = Host(member)
    switch = switch_for(member, host, check=["etcdutl", "check", "v2store"])
    plan, _found = switch.recovery()
    switch.switch(plan)

    assert "check" not in host.calls and host.live_config_at_start == ["new config"]
    assert sorted(p.name for p in member.rglob("*")) == ["data", "etcd.conf.yml", "etcd.service", "version.txt"]


def test_forward_that_fails_goes_back_to_the_version_the_marker_kept(member):
    interrupted(member, copies=BOTH, swapped=BOTH, consumed=BOTH, record="3.6.16/etcd3")
    host = Host(member, healthy_after=None)
    switch = switch_for(member, host, timeout=0.3)
    with pytest.raises(SwitchFailed) as failed:
        switch.switch(switch.recovery()[0])

    assert failed.value.rolled_back
    assert host.live_config_at_start == ["new config", "old config"]
    assert (member / "etcd.service").read_text() == "old unit"
    assert (member / "data" / "version.txt").read_text() == "3.5.30/etcd3"
    assert not list(member.rglob("*.previous"))


def test_back_finishes_the_way_back_and_says_why(member):
    interrupted(member, copies=BOTH, swapped=BOTH[1:], consumed=BOTH, record="3.6.16/etcd3", marker="back")
    host = Host(member)
    switch = switch_for(member, host)
    with pytest.raises(SwitchFailed) as failed:
        switch.switch(switch.recovery()[0])

    assert failed.value.rolled_back and "interrupted on its way back" in str(failed.value)
    assert (member / "etcd.service").read_text() == "old unit"
    assert host.live_config_at_start == ["old config"]
    assert (member / "data" / "version.txt").read_text() == "3.5.30/etcd3"
    assert not list(member.rglob("*.previous"))


def test_copies_dropped_after_the_new_version_served_leave_no_way_back(member):
    interrupted(member, swapped=BOTH, consumed=BOTH, record="3.6.16/etcd3")
    switch = switch_for(member, Host(member, healthy_after=None), timeout=0.3)
    with pytest.raises(SwitchFailed) as failed:
        switch.switch(switch.recovery()[0])

    assert not failed.value.rolled_back and "so there is no way back" in str(failed.value)
    assert (member / "etcd.service").read_text() == "new unit"


class ClusterHost(Host):
    """A member of a three-member cluster (IDs 1, 2, 3; this one is 1): ``leader`` leads; ``lags`` are how far ahead
    of this member's own status (index 1000) the leader's index in ``endpoint status --cluster`` is, one per call
    (the last repeats)."""

    def __init__(self, tmp_path, leader=1, lags=(0,), move_rc=0, status_rc=0):
        super(ClusterHost, self).__init__(tmp_path)
        self.leader, self.lags, self.move_rc, self.status_rc = leader, list(lags), move_rc, status_rc

    def run(self, argv, environ=None):
        if argv[0] != "etcdctl" or "health" in argv:
            return super(ClusterHost, self).run(argv, environ)
        if "move-leader" in argv:
            self.calls.append("etcdctl move-leader " + argv[-1])
            if self.move_rc == 0:
                self.leader = int(argv[-1], 16)
            return self.move_rc, "", "" if self.move_rc == 0 else "etcdserver: leader changed"
        self.now += 0.1
        if "--cluster" in argv:
            self.calls.append("etcdctl status --cluster")
            lag = self.lags.pop(0) if len(self.lags) > 1 else self.lags[0]
            return 0, json.dumps([self.status(member, 1000 + (lag if member == self.leader else 0))
                                  for member in (1, 2, 3)]), ""
        self.calls.append("etcdctl status")
        if self.status_rc:
            return self.status_rc, "", "context deadline exceeded"
        return 0, json.dumps([self.status(1, 1000)]), ""

    def status(self, member, raft_index):
        return {"Endpoint": "http://127.0.0.1:%d" % (2378 + member),
                "Status": {"header": {"cluster_id": 99, "member_id": member, "revision": 7, "raft_term": 2},
                           "version": "3.5.30", "leader": self.leader, "raftIndex": raft_index}}


def cluster_switch_for(member, host, **options):
    files = [dict(src=str(member / name) + ".next", dest=str(member / name)) for name in ("etcd.conf.yml", "etcd.service")]
    return MemberSwitch(host.run, "etcd", str(member / "data"), "3.6.16", files, ClientAccess("etcdctl", "http://127.0.0.1:2379"),
                        1.0, 0.1, clock=host.clock, sleep=host.sleep, **options)


def test_a_leader_hands_leadership_over_before_it_stops(member):
    host = ClusterHost(member, leader=1)
    result = cluster_switch_for(member, host, leader_transferee=2).switch()

    assert host.calls[:4] == ["etcdctl status", "etcdctl move-leader 2", "systemctl daemon-reload",
                              "systemctl stop etcd"]
    assert result["leadership_moved_to"] == "2"


def test_a_follower_stops_without_moving_leadership(member):
    host = ClusterHost(member, leader=3)
    result = cluster_switch_for(member, host, leader_transferee=2).switch()

    assert host.calls[:3] == ["etcdctl status", "systemctl daemon-reload", "systemctl stop etcd"]
    assert "leadership_moved_to" not in result


@pytest.mark.parametrize("failure", [dict(move_rc=1), dict(status_rc=1)], ids=["move fails", "no status"])
def test_a_leader_that_cannot_hand_over_or_a_member_that_does_not_answer_is_not_stopped(member, failure):
    host = ClusterHost(member, leader=1, **failure)
    with pytest.raises(SwitchFailed) as failed:
        cluster_switch_for(member, host, leader_transferee=2).switch()

    assert "Nothing was stopped" in str(failed.value) and not failed.value.rolled_back
    assert not [call for call in host.calls if call.startswith("systemctl")]
    assert sorted(p.name for p in member.rglob("*")) == ["data", "etcd.conf.yml", "etcd.conf.yml.next", "etcd.service",
                                                         "etcd.service.next", "version.txt"]


def test_the_call_returns_once_the_member_has_caught_up_with_the_leader(member):
    host = ClusterHost(member, leader=2, lags=[40, 12, 4, 0])
    result = cluster_switch_for(member, host, max_lag=5).switch()

    assert host.calls.count("etcdctl status --cluster") == 3  # 40 and 12 entries behind, then 4
    # Each poll reads the cluster, then the member itself (0.1 s each); two pauses of 0.1 s between them.
    assert result["caught_up_seconds"] == pytest.approx(0.8)
    assert host.calls[-2:] == ["etcdctl status --cluster", "etcdctl status"]
    assert result["downtime"] < result["phases"]["healthy"] + 0.01  # the catch-up is not part of the downtime


def test_a_member_that_does_not_catch_up_fails_on_the_new_version_without_another_restart(member):
    host = ClusterHost(member, leader=2, lags=[100])
    with pytest.raises(SwitchFailed) as failed:
        cluster_switch_for(member, host, max_lag=5).switch()

    assert "did not catch up with the leader within 1.0s (100 entries behind)" in str(failed.value)
    assert not failed.value.rolled_back and host.started == 1
    assert (member / "data" / "version.txt").read_text() == "3.6.16/etcd3"
    assert not list(member.glob("*.previous"))


def test_the_phases_say_where_the_downtime_went(member):
    host = Host(member, healthy_after=3)
    result = switch_for(member, host).switch()

    assert list(result["phases"]) == ["stopped", "recorded", "started", "healthy"]
    assert result["phases"]["healthy"] == result["downtime"]


def test_files_going_back_before_the_stop_turn_the_marker_to_the_way_back_first(member):
    host = Host(member)
    switch = switch_for(member, host)

    def killed():
        raise KeyboardInterrupt("killed while the files go back")  # not an Exception: as a kill, nothing after runs

    (member / "etcd.service.next").unlink()  # the swap fails after the configuration went in
    switch._copy_back = killed  # pylint: disable=protected-access
    with pytest.raises(KeyboardInterrupt):
        switch.switch()

    marker = json.loads((member / "data" / "version.txt.previous").read_text())
    assert marker["direction"] == "back"  # the next run goes back, not forward with the new configuration
    assert switch_for(member, Host(member)).recovery()[0] == BACK


def test_finishing_an_interrupted_switch_whose_reload_fails_stops_nothing_and_asks_for_another_run(member):
    interrupted(member, copies=BOTH, swapped=BOTH[:1], consumed=BOTH[:1])
    host = Host(member)
    switch = switch_for(member, host)
    switch.run = failing(host, "daemon-reload", "Failed to reload daemon")
    plan, _found = switch.recovery()
    with pytest.raises(SwitchFailed) as failed:
        switch.switch(plan)

    assert "run again" in str(failed.value) and "Failed to reload daemon" in str(failed.value)
    assert host.calls == ["systemctl daemon-reload"]
    assert (member / "data" / "version.txt.previous").exists() and (member / "etcd.service.previous").exists()


@pytest.mark.parametrize("statuses, own, lag", [
    # the leader's index was read first: what was written after it is not lag (a member read later may be ahead)
    ([{"Status": {"header": {"member_id": 2}, "leader": 2, "raftIndex": 93}}],
     {"header": {"member_id": 1}, "leader": 2, "raftIndex": 90}, 3),
    ([{"Status": {"header": {"member_id": 2}, "leader": 2, "raftIndex": 93}}],
     {"header": {"member_id": 1}, "leader": 2, "raftIndex": 95}, -2),
    # another member out: etcdctl prints what it got (and fails); the leader's status is enough
    ([{"Status": {"header": {"member_id": 3}, "leader": 2, "raftIndex": 99}},
      {"Status": {"header": {"member_id": 2}, "leader": 2, "raftIndex": 93}}],
     {"header": {"member_id": 1}, "leader": 2, "raftIndex": 90}, 3),
    # the leader out, or this member not answering (own_status None)
    ([{"Status": {"header": {"member_id": 1}, "leader": 3, "raftIndex": 90}}],
     {"header": {"member_id": 1}, "leader": 3, "raftIndex": 90}, None),
    ([{"Status": {"header": {"member_id": 2}, "leader": 2, "raftIndex": 93}}], None, None),
], ids=["behind", "ahead", "a member out", "the leader out", "no own status"])
def test_the_lag_is_the_leaders_earlier_index_less_this_members(statuses, own, lag):
    assert raft_lag(json.dumps(statuses), own) == lag
    assert raft_lag("Error: context deadline exceeded", own) is None
