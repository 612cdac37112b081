"""A member the collection did not install, read from its running process: real etcd processes on loopback,
started as a unit would start them (flags, ETCD_* variables, a configuration file, relative paths), and read back
with etcd_member_process's reader and the etcd_member_settings rules. What the reading says must be what the member
itself reports (member list, its data dir, an endpoint that answers). systemd is not on this host: the unit's
``systemctl show`` answer is given, naming the real process."""

import json
import pwd
import os
import shutil
import signal
import subprocess
import time

import pytest

from etcd_sample import free_port
from helpers import BIN_ROOT, etcd_version, issue_certificates

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import clean_environment
from ansible_collections.etcdops.etcd.plugins.module_utils.member_process import SettingsError, read_member_process
from ansible_collections.etcdops.etcd.plugins.plugin_utils.member_settings import member_settings
from ansible_collections.community.crypto.plugins.filter.x509_certificate_info import x509_certificate_info_filter


class Unit:
    """An etcd process started from ``program`` as systemd would (argv, environment, working directory)."""

    def __init__(self, program, args, environment, cwd, log):
        self.program, self.args, self.environment = str(program), args, environment
        env = clean_environment(**environment)
        with open(log, "w") as handle:
            self.process = subprocess.Popen([self.program] + args, env=env, cwd=str(cwd), stdout=handle,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def show(self, exec_path=None, environment=None, **properties):
        """A runner answering ``systemctl show`` for this unit as systemd would (no other unit is loaded)."""
        unit = dict(LoadState="loaded", ActiveState="active", MainPID=self.process.pid,
                    ExecStart="{ path=%s ; argv[]=%s ; ignore_errors=no }" % (
                        exec_path or self.program, " ".join([exec_path or self.program] + self.args)),
                    FragmentPath="/etc/systemd/system/etcd-test.service", DropInPaths="", NeedDaemonReload="no",
                    RootDirectory="", RootImage="", EnvironmentFiles="",
                    Environment=" ".join('"%s=%s"' % item for item in sorted(
                        (self.environment if environment is None else environment).items())))
        unit.update(properties)
        text = "".join("%s=%s\n" % item for item in unit.items())

        def run(argv):
            if argv[:2] != ["systemctl", "show"]:
                done = subprocess.run(argv, capture_output=True, text=True, check=False)
                return done.returncode, done.stdout, done.stderr
            return 0, "" if "*.service" in argv else text, ""

        return run

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def ctl(version, endpoint, *args):
    got = subprocess.run([str(BIN_ROOT / version / "etcdctl"), "--endpoints", endpoint, "--dial-timeout=2s"]
                         + list(args), capture_output=True, text=True, env=clean_environment(ETCDCTL_API="3"),
                         check=False)
    return got


def wait_serving(version, endpoint):
    for _attempt in range(200):
        if ctl(version, endpoint, "endpoint", "health").returncode == 0:
            return
        time.sleep(0.1)
    pytest.fail("etcd did not serve on %s" % endpoint)


@pytest.fixture
def program(tmp_path):
    """A private copy of a version's etcd, as another installer would put it in its own bin directory."""

    def copy(version):
        target = tmp_path / "usr-local-bin" / "etcd"
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(str(BIN_ROOT / version / "etcd"), str(target))
        return target

    return copy


def test_flags_and_an_environment_file_are_read_as_the_member_runs_them(tmp_path, program):
    version = etcd_version("3.4.23")
    client, peer = free_port(), free_port()
    (tmp_path / "work").mkdir()
    unit = Unit(program(version),
                ["--listen-client-urls", "http://127.0.0.1:%d" % client, "-heartbeat-interval", "200",
                 "--advertise-client-urls=http://127.0.0.1:%d" % client, "--strict-reconfig-check"],
                {"ETCD_NAME": "adopted-1", "ETCD_DATA_DIR": "data", "ETCD_LISTEN_PEER_URLS": "http://127.0.0.1:%d" % peer,
                 "ETCD_INITIAL_ADVERTISE_PEER_URLS": "http://127.0.0.1:%d" % peer,
                 "ETCD_INITIAL_CLUSTER": "adopted-1=http://127.0.0.1:%d" % peer, "ETCD_SNAPSHOT_COUNT": "10000"},
                tmp_path / "work", tmp_path / "etcd.log")
    try:
        wait_serving(version, "http://127.0.0.1:%d" % client)
        process = read_member_process("etcd-test", unit.show())
        found = member_settings(process)
        listed = json.loads(ctl(version, found["endpoint"], "member", "list", "-w", "json").stdout)["members"]
        assert [(m["name"], m["peerURLs"], m["clientURLs"]) for m in listed] == [
            (found["settings"]["name"], [found["settings"]["initial-advertise-peer-urls"]],
             [found["settings"]["advertise-client-urls"]])]
        # The relative data dir is the working directory's, where etcd keeps it.
        assert found["data_dir"] == str(tmp_path / "work" / "data") and os.path.isdir(found["data_dir"] + "/member")
        assert found["sources"]["snapshot-count"] == "environment (ETCD_SNAPSHOT_COUNT)"
        assert found["sources"]["heartbeat-interval"] == "flag" and found["settings"]["heartbeat-interval"] == "200"
        assert found["settings"]["strict-reconfig-check"] == "true"
        assert process["binary"] == str(tmp_path / "usr-local-bin" / "etcd")
        assert set(process["environment"]) == set(unit.environment) and process["binary_version"] == "3.4"
        # Another process running the same file (kubespray's etcd-events beside etcd) would change version with it.
        shared = tmp_path / "sleep-copy"
        shutil.copy2("/bin/sleep", str(shared))
        sharing = [Unit(shared, ["30"], {}, tmp_path, tmp_path / ("sleep-%d.log" % i)) for i in (1, 2)]
        try:
            with pytest.raises(SettingsError, match="is also run by process %d" % sharing[1].process.pid):
                read_member_process("etcd-test", sharing[0].show())
        finally:
            for process in sharing:
                process.stop()

        # A unit that would not start the member as it runs: changed and not reloaded, other arguments, other
        # variables.
        with pytest.raises(SettingsError, match="changed on disk since systemd read it"):
            read_member_process("etcd-test", unit.show(NeedDaemonReload="yes"))
        with pytest.raises(SettingsError, match="is not the command line etcd runs with"):
            read_member_process("etcd-test", unit.show(ExecStart="{ path=%s ; argv[]=%s --debug ; }" % (
                unit.program, unit.program)))
        with pytest.raises(SettingsError, match="environment changed since etcd started .ETCD_SNAPSHOT_COUNT"):
            read_member_process("etcd-test", unit.show(environment=dict(unit.environment, ETCD_SNAPSHOT_COUNT="1")))
        # What the switch must refuse to touch: a wrapper in ExecStart, a link, a binary replaced on disk.
        with pytest.raises(SettingsError, match="ExecStart must run etcd itself"):
            read_member_process("etcd-test", unit.show(exec_path="/bin/sh"))
        link = tmp_path / "usr-local-bin" / "etcd-link"
        link.symlink_to(unit.program)
        with pytest.raises(SettingsError, match="a symlink to"):
            read_member_process("etcd-test", unit.show(exec_path=str(link)))
        # As a package upgrade does: a new file renamed over the one that runs.
        shutil.copy2(unit.program, unit.program + ".new")
        os.replace(unit.program + ".new", unit.program)
        with pytest.raises(SettingsError, match="replaced on disk after it started"):
            read_member_process("etcd-test", unit.show())
    finally:
        unit.stop()


def test_a_configuration_file_wins_over_variables_as_etcd_says(tmp_path, program):
    version = etcd_version("3.7")
    client, peer = free_port(), free_port()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "etcd.yml").write_text(
        "name: from-file\ndata-dir: ../data\nlisten-client-urls: http://127.0.0.1:%d\n"
        "advertise-client-urls: http://127.0.0.1:%d\nlisten-peer-urls: http://127.0.0.1:%d\n"
        "initial-advertise-peer-urls: http://127.0.0.1:%d\ninitial-cluster: from-file=http://127.0.0.1:%d\n"
        % (client, client, peer, peer, peer))
    unit = Unit(program(version), [], {"ETCD_CONFIG_FILE": "etcd.yml", "ETCD_NAME": "from-environment"},
                tmp_path / "etc", tmp_path / "etcd.log")
    try:
        wait_serving(version, "http://127.0.0.1:%d" % client)
        found = member_settings(read_member_process("etcd-test", unit.show()))
        listed = json.loads(ctl(version, found["endpoint"], "member", "list", "-w", "json").stdout)["members"]
        assert [m["name"] for m in listed] == ["from-file"] == [found["settings"]["name"]]
        assert found["sources"]["name"] == "configuration file %s" % (tmp_path / "etc" / "etcd.yml")
        assert found["data_dir"] == str(tmp_path / "data") and os.path.isdir(str(tmp_path / "data" / "member"))
    finally:
        unit.stop()


def test_33_ignores_the_configuration_file_variable_and_the_reading_does_too(tmp_path, program):
    version = etcd_version("3.3")
    client, peer = free_port(), free_port()
    (tmp_path / "etcd.yml").write_text("name: from-file\n")
    environment = {"ETCD_CONFIG_FILE": "etcd.yml", "ETCD_NAME": "from-environment", "ETCD_DATA_DIR": "data",
                   "ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:%d" % client,
                   "ETCD_ADVERTISE_CLIENT_URLS": "http://127.0.0.1:%d" % client,
                   "ETCD_LISTEN_PEER_URLS": "http://127.0.0.1:%d" % peer,
                   "ETCD_INITIAL_ADVERTISE_PEER_URLS": "http://127.0.0.1:%d" % peer,
                   "ETCD_INITIAL_CLUSTER": "from-environment=http://127.0.0.1:%d" % peer}
    unit = Unit(program(version), [], environment, tmp_path, tmp_path / "etcd.log")
    try:
        wait_serving(version, "http://127.0.0.1:%d" % client)
        process = read_member_process("etcd-test", unit.show())
        found = member_settings(process)
        listed = json.loads(ctl(version, found["endpoint"], "member", "list", "-w", "json").stdout)["members"]
        assert [m["name"] for m in listed] == ["from-environment"] == [found["settings"]["name"]]
        assert process["config_file"] == "" and process["binary_version"] == "3.3"
        assert found["sources"]["config-file"] == "environment (ETCD_CONFIG_FILE)"
    finally:
        unit.stop()


def test_a_process_root_may_not_read_is_read_as_its_owner(tmp_path):
    """In a container without CAP_SYS_PTRACE root may not read another user's /proc/PID/environ; its owner may."""
    from ansible_collections.etcdops.etcd.plugins.module_utils.member_process import _as_owner

    nobody = pwd.getpwnam("nobody")

    def become_nobody():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    sleeper = subprocess.Popen(["sleep", "30"], env={"ETCD_NAME": "owned-by-nobody", "PATH": os.environ["PATH"]},
                               preexec_fn=become_nobody, cwd="/")
    try:
        proc = "/proc/%d" % sleeper.pid

        def read():
            with open(proc + "/environ", "rb") as handle:
                return {"uid": os.getuid(), "environ": handle.read().decode()}

        found = _as_owner(os.stat(proc), read)
        assert found["uid"] == nobody.pw_uid and "ETCD_NAME=owned-by-nobody" in found["environ"]
        with pytest.raises(SettingsError, match="could not be read as its owner .uid %d. either" % nobody.pw_uid):
            _as_owner(os.stat(proc), lambda: open(str(tmp_path / "missing")).read())
    finally:
        sleeper.kill()
        sleeper.wait()


def test_over_tls_the_calls_go_to_a_url_the_certificate_holds_with_the_certificate_it_asks_for(tmp_path, program):
    """A member listening on a loopback address its certificate does not hold (issued for the host's name): the
    calls go to the advertised URL the certificate holds, which verifies where the loopback URL does not. Its
    trusted CA without client-cert-auth still has etcd ask for a client certificate: the calls present one."""
    version = etcd_version("3.5")
    client, peer = free_port(), free_port()
    issue_certificates(tmp_path, "server", dns_names=["localhost"])
    pki = dict(ETCD_TRUSTED_CA_FILE=str(tmp_path / "ca.crt"), ETCD_CERT_FILE=str(tmp_path / "server.crt"),
               ETCD_KEY_FILE=str(tmp_path / "server.key"))
    unit = Unit(program(version),
                ["--listen-client-urls=https://127.0.0.1:%d" % client, "--advertise-client-urls=https://localhost:%d" % client,
                 "--listen-peer-urls=http://127.0.0.1:%d" % peer, "--initial-advertise-peer-urls=http://127.0.0.1:%d" % peer,
                 "--initial-cluster=tls-1=http://127.0.0.1:%d" % peer, "--name=tls-1", "--data-dir=data"],
                pki, tmp_path, tmp_path / "etcd.log")
    try:
        for _attempt in range(100):
            if ctl(version, "https://localhost:%d" % client, "--cacert", pki["ETCD_TRUSTED_CA_FILE"], "--cert",
                   pki["ETCD_CERT_FILE"], "--key", pki["ETCD_KEY_FILE"], "endpoint", "health").returncode == 0:
                break
            time.sleep(0.1)
        process = read_member_process("etcd-test", unit.show())
        names = x509_certificate_info_filter((tmp_path / "server.crt").read_text())["subject_alt_name"]
        assert names == ["DNS:localhost"]
        unnamed, named = member_settings(process), member_settings(process, certificate_names=names)
        assert unnamed["endpoint"] == "https://127.0.0.1:%d" % client
        assert named["endpoint"] == "https://localhost:%d" % client and named["client_ca_file"] == str(tmp_path / "ca.crt")
        assert (named["client_cert_file"], named["client_key_file"]) == (pki["ETCD_CERT_FILE"], pki["ETCD_KEY_FILE"])

        def health(access, *tls):
            return ctl(version, access["endpoint"], "--cacert", access["client_ca_file"], *tls, "endpoint", "health")

        own_pair = ("--cert", named["client_cert_file"], "--key", named["client_key_file"])
        answer = health(named, *own_pair)
        assert answer.returncode == 0, answer.stderr
        assert health(named).returncode != 0  # without a client certificate
        assert "x509: cannot validate certificate for 127.0.0.1" in health(unnamed, *own_pair).stderr
    finally:
        unit.stop()
