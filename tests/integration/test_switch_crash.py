"""A member switch killed with its whole process tree at each moment that matters converges on the next run.

A real single member written by 3.4 (keys, a compacted history, a lease with attached keys) switches to 3.5 with
``etcd_member_switch`` run as a module process in a session of its own. The module waits at a named point
(``ETCDOPS_SWITCH_PAUSE_AT``: it creates a file there and waits; nothing sleeps to choose the moment) and the
test kills the session with SIGKILL. The same module call then runs again and must leave the member healthy on
3.5 with version.txt naming it, no copy or marker behind, every key, revision and the lease as before.

There is no systemd on this host: ``systemctl`` is a stand-in on PATH that runs etcd from the ExecStart of the unit
it last read (daemon-reload reads the unit, as systemd does), outside the module's session, so the kill leaves etcd
as systemd would. Real systemd is proven in the molecule rolling scenario.
"""

import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etcd_sample import free_port, read_state
from helpers import BIN_ROOT, ROOT, etcd_version
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset
from ansible_collections.etcdops.etcd.plugins.module_utils.member_switch import PAUSE_AT

SYSTEMCTL = '''#!%(python)s
"""systemctl for one unit: etcd runs from the ExecStart of the unit last read, in a session of its own."""
import os, shlex, shutil, signal, subprocess, sys, time

UNIT, PID, LOG = %(unit)r, %(pid)r, %(log)r
LOADED = PID + ".unit"


def running():
    try:
        with open(PID) as handle:
            pid = int(handle.read())
        with open("/proc/%%d/stat" %% pid) as handle:
            return pid if handle.read().rsplit(")", 1)[1].split()[0] != "Z" else None
    except (OSError, ValueError):
        return None


command = sys.argv[1]
if command == "daemon-reload":
    shutil.copyfile(UNIT, LOADED)
elif command == "stop":
    pid = running()
    if pid:
        os.kill(pid, signal.SIGTERM)
        while running():
            time.sleep(0.01)
    if os.path.exists(PID):
        os.unlink(PID)
elif command == "start" and not running():
    with open(LOADED) as handle:
        argv = shlex.split([line for line in handle if line.startswith("ExecStart=")][0][len("ExecStart="):])
    with open(LOG, "ab") as log:
        etcd = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    with open(PID, "w") as handle:
        handle.write(str(etcd.pid))
'''

CONFIG = """name: crash
data-dir: %(data)s
listen-client-urls: http://127.0.0.1:%(client)d
advertise-client-urls: http://127.0.0.1:%(client)d
listen-peer-urls: http://127.0.0.1:%(peer)d
initial-advertise-peer-urls: http://127.0.0.1:%(peer)d
snapshot-count: %(snapshots)d
"""

UNIT = """[Service]
ExecStart=%(etcd)s --config-file %(config)s
"""


class Host:
    """One member's host: live and prepared config and unit, the systemctl stand-in, the module's arguments."""

    def __init__(self, root, data_dir, old, new):
        self.root, self.data_dir, self.old, self.new = root, data_dir, old, new
        self.bin = root / "bin"
        self.bin.mkdir()
        self.config, self.unit = root / "etcd.conf.yml", root / "etcd.service"
        self.client, peer = free_port(), free_port()
        for version, suffix, snapshots in ((old, "", 10000), (new, ".next", 5000)):
            Path(str(self.config) + suffix).write_text(
                CONFIG % dict(data=data_dir, client=self.client, peer=peer, snapshots=snapshots))
            Path(str(self.unit) + suffix).write_text(
                UNIT % dict(etcd=BIN_ROOT / version / "etcd", config=self.config))
        self.pid = root / "etcd.pid"
        stand_in = self.bin / "systemctl"
        stand_in.write_text(SYSTEMCTL % dict(python=sys.executable, unit=str(self.unit), pid=str(self.pid),
                                             log=str(root / "etcd.log")))
        stand_in.chmod(0o755)
        (self.bin / "journalctl").symlink_to("/bin/true")
        self.environ = dict(os.environ, PATH="%s:%s" % (self.bin, os.environ["PATH"]),
                            PYTHONPATH=str(ROOT / ".cache" / "collections"))
        self.args = dict(data_dir=str(data_dir), version=new, etcdctl=str(BIN_ROOT / new / "etcdctl"),
                         endpoint="http://127.0.0.1:%d" % self.client, timeout=60,
                         files=[dict(src=str(self.config) + ".next", dest=str(self.config)),
                                dict(src=str(self.unit) + ".next", dest=str(self.unit))])

    def systemctl(self, *args):
        subprocess.run([str(self.bin / "systemctl")] + list(args), check=True, env=self.environ)

    def member(self, version):
        return Member(Toolset(str(BIN_ROOT), version), str(self.data_dir), str(self.root / "ctl.log"),
                      client_port=self.client)

    def wait_healthy(self, version):
        member, deadline = self.member(version), time.monotonic() + 60
        while member.ctl("endpoint", "health", check=False).returncode != 0:
            assert time.monotonic() < deadline, (self.root / "etcd.log").read_text()[-2000:]
            time.sleep(0.05)

    def module(self, pause_at=None, check_mode=False):
        environ = dict(self.environ)
        if pause_at:
            environ[PAUSE_AT] = "%s:%s" % (pause_at, self.root / "paused")
        args = self.root / "args.json"
        args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(self.args, _ansible_check_mode=check_mode)}))
        return subprocess.Popen([sys.executable, "-m", "ansible_collections.etcdops.etcd.plugins.modules."
                                 "etcd_member_switch", str(args)], cwd=str(self.root), env=environ,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def kill_at(self, point):
        """Run the switch until it waits at ``point``, then SIGKILL its whole session."""
        switch = self.module(point)
        flag = self.root / "paused"
        deadline = time.monotonic() + 60
        while not flag.exists():
            if switch.poll() is not None or time.monotonic() > deadline:
                switch.kill()
                out, err = switch.communicate()
                pytest.fail("the switch did not reach %s: rc %s\n%s\n%s" % (point, switch.returncode, out, err))
            time.sleep(0.01)
        os.killpg(switch.pid, signal.SIGKILL)
        switch.communicate()

    def switch(self, check_mode=False):
        out, err = self.module(check_mode=check_mode).communicate(timeout=180)
        result = json.loads(out)
        assert not result.get("failed"), (result, err)
        return result

    def etcd_running(self):
        try:
            stat = Path("/proc/%s/stat" % self.pid.read_text()).read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"

    def leftovers(self):
        return sorted(p.name for d in (self.root, self.data_dir) for p in d.iterdir()
                      if p.name.endswith((".previous", ".next", ".tmp")))


def running(host_class, data_dir_from, tmp_path):
    """A running 3.4 member with the sample data on a host of ``host_class``, its 3.5 files prepared."""
    old, data_dir, marks, state = data_dir_from("3.4")
    member_host = host_class(tmp_path, data_dir, old, etcd_version("3.5"))
    member_host.marks, member_host.state = marks, state
    member_host.systemctl("daemon-reload")
    member_host.systemctl("start", "etcd")
    member_host.wait_healthy(old)
    yield member_host
    member_host.systemctl("stop", "etcd")


@pytest.fixture
def host(data_dir_from, tmp_path):
    """The 3.5 configuration and unit prepared beside the live ones."""
    yield from running(Host, data_dir_from, tmp_path)


# Each moment, whether etcd runs then, and which side of the swap the next run must read from the disk. Without a
# check, the files go in, and systemd reads the unit, while etcd still runs; then the stop.
KILL_POINTS = [
    ("copied", True, "before the swap: switched normally"),
    ("swapping", True, "after swapping {config}: finished forward"),
    ("reloaded", True, "after swapping {config}, {unit}: finished forward"),
    ("stopped", False, "after swapping {config}, {unit}: finished forward"),
    ("recorded", False, "after swapping {config}, {unit}: finished forward"),
    ("started", True, "after swapping {config}, {unit}: finished forward"),
]
# With a check (etcdutl check v2store before 3.6), the files go in only after it, the member stopped: systemd never
# holds the new unit before the check has passed.
CHECKED_KILL_POINTS = [
    ("copied", True, "before the swap: switched normally"),
    ("stopped", False, "before the swap: switched normally"),
    ("swapping", False, "after swapping {config}: finished forward"),
    ("reloaded", False, "after swapping {config}, {unit}: finished forward"),
    ("recorded", False, "after swapping {config}, {unit}: finished forward"),
    ("started", True, "after swapping {config}, {unit}: finished forward"),
]
CASES = [(False,) + point for point in KILL_POINTS] + [(True,) + point for point in CHECKED_KILL_POINTS]


@pytest.mark.parametrize("checked, point, running, recovered", CASES,
                         ids=["%s%s" % ("checked-" if case[0] else "", case[1]) for case in CASES])
def test_a_switch_killed_at_any_moment_converges_on_the_next_run(host, checked, point, running, recovered):
    if checked:
        host.args["check_command"] = [str(BIN_ROOT / host.old / "etcdctl"), "version"]
    host.kill_at(point)
    # the invariant at the kill: the marker names the version to go back to, every copy is whole, and etcd (outside
    # the killed session, as under systemd) runs or not as the switch left it
    assert json.loads((host.data_dir / "version.txt.previous").read_text()) == dict(
        target=host.new, previous="%s/etcd3" % host.old, direction="forward")
    assert Path(str(host.config) + ".previous").read_text().endswith("snapshot-count: 10000\n")
    assert host.etcd_running() == running
    # systemd holds the unit it last read: with a check, the new one only once the check has passed
    new_unit = UNIT % dict(etcd=BIN_ROOT / host.new / "etcd", config=host.config)
    loaded_new = {"reloaded", "recorded", "started"} | (set() if checked else {"stopped"})
    assert (Path(str(host.pid) + ".unit").read_text() == new_unit) == (point in loaded_new)

    found = "a switch to %s was interrupted %s" % (host.new, recovered.format(config=host.config, unit=host.unit))
    left = host.leftovers()
    assert host.switch(check_mode=True)["recovered"] == found.replace(": ", ": would ").replace(
        "switched", "switch").replace("finished", "finish")
    assert host.leftovers() == left and host.etcd_running() == running

    result = host.switch()

    assert result["recovered"] == found
    assert not result["rolled_back"] and result["previous_version"] == host.old
    member = host.member(host.new)
    assert member.status()["version"] == host.new
    assert (host.data_dir / "version.txt").read_text() == "%s/etcd3" % host.new
    assert host.config.read_text().endswith("snapshot-count: 5000\n")
    assert host.leftovers() == []
    assert read_state(member, host.marks) == host.state


class InPlaceHost(Host):
    """A member the collection did not install: its unit runs a binary of its own (the rolling role's
    ``etcd_adopt_service``), and the switch swaps that binary and the hop environment, not a configuration."""

    def __init__(self, root, data_dir, old, new):
        super(InPlaceHost, self).__init__(root, data_dir, old, new)
        (root / "usr-local-bin").mkdir()
        self.binary = root / "usr-local-bin" / "etcd"
        shutil.copy2(str(BIN_ROOT / old / "etcd"), str(self.binary))
        shutil.copy2(str(BIN_ROOT / new / "etcd"), str(self.binary) + ".next")
        self.unit.write_text(UNIT % dict(etcd=self.binary, config=self.config))
        for prepared in (Path(str(self.config) + ".next"), Path(str(self.unit) + ".next")):
            prepared.unlink()
        self.environment = root / "etcd-hop.env"
        self.environment.write_text("# none\n")
        Path(str(self.environment) + ".next").write_text("ETCD_SNAPSHOT_COUNT=1\n")
        self.args["files"] = [dict(src=str(self.binary) + ".next", dest=str(self.binary)),
                              dict(src=str(self.environment) + ".next", dest=str(self.environment))]

    def leftovers(self):
        return super(InPlaceHost, self).leftovers() + sorted(
            p.name for p in self.binary.parent.iterdir() if p.name.endswith((".previous", ".next", ".tmp")))


@pytest.fixture
def in_place_host(data_dir_from, tmp_path):
    """The member run from its own binary, the 3.5 binary copied beside it."""
    yield from running(InPlaceHost, data_dir_from, tmp_path)


IN_PLACE_KILL_POINTS = [
    ("copied", True, "before the swap: switched normally"),
    ("swapping", True, "after swapping {binary}: finished forward"),
    ("stopped", False, "after swapping {binary}, {environment}: finished forward"),
    ("recorded", False, "after swapping {binary}, {environment}: finished forward"),
    ("started", True, "after swapping {binary}, {environment}: finished forward"),
]


@pytest.mark.parametrize("point, running, recovered", IN_PLACE_KILL_POINTS, ids=[p[0] for p in IN_PLACE_KILL_POINTS])
def test_an_in_place_switch_killed_at_any_moment_converges_on_the_next_run(in_place_host, point, running, recovered):
    host = in_place_host
    host.kill_at(point)
    # The previous binary is whole beside the live one (executable: the way back runs it) until the switch ends.
    previous = Path(str(host.binary) + ".previous")
    assert filecmp.cmp(str(previous), str(BIN_ROOT / host.old / "etcd"), shallow=False)
    assert os.access(str(previous), os.X_OK) and host.etcd_running() == running

    result = host.switch()

    assert result["recovered"] == "a switch to %s was interrupted %s" % (
        host.new, recovered.format(binary=host.binary, environment=host.environment))
    assert filecmp.cmp(str(host.binary), str(BIN_ROOT / host.new / "etcd"), shallow=False)
    assert os.access(str(host.binary), os.X_OK)
    assert host.environment.read_text() == "ETCD_SNAPSHOT_COUNT=1\n"
    member = host.member(host.new)
    assert member.status()["version"] == host.new
    assert (host.data_dir / "version.txt").read_text() == "%s/etcd3" % host.new
    assert host.leftovers() == []
    assert read_state(member, host.marks) == host.state
