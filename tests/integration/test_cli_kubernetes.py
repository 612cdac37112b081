"""bin/etcd-migrate as a drop-in for Kubernetes' etcd ``migrate``, run as a subprocess on real etcd binaries.

Each run is watched with ``ss``: every socket its temporary members listen on must be on loopback.
"""

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from etcd_sample import free_port, read_state, write_sample_data
from helpers import (BIN_ROOT, ROOT, assert_converted_from_etcd2, copy_tree, etcd_version, issue_certificates,
                     running_etcd, v2_keys)

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset

COLLECTION = ROOT / ".cache" / "collections" / "ansible_collections" / "etcdops" / "etcd"
CLI = COLLECTION / "bin" / "etcd-migrate"
LISTENER = re.compile(r"^LISTEN\s+\S+\s+\S+\s+(\S+):(\d+)\s.*pid=(\d+),")
V2_KEYS = {"/custom/pods/default/web-%d" % i: '{"spec": %d}' % i for i in range(5)}
V2_KEYS["/top"] = "plain value with spaces & symbols=1"
TTL_KEYS = {"/custom/events/default/event-%d" % i: "event %d" % i for i in range(3)}


# --- certificates, data dirs -----------------------------------------------

@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA and one certificate for 127.0.0.1 good for serving and as a client: peer mTLS for every member."""
    out = tmp_path_factory.mktemp("pki")
    issue_certificates(out, "peer", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    return ["--peer-trusted-ca-file=%s" % (out / "ca.crt"), "--peer-cert-file=%s" % (out / "peer.crt"),
            "--peer-key-file=%s" % (out / "peer.key"), "--peer-client-cert-auth"]


def tls_member_settings(name, peer, pki):
    return dict(name=name, listen_peer_urls=peer, initial_advertise_peer_urls=peer,
                initial_cluster="%s=%s" % (name, peer), extra_args=pki)


@pytest.fixture(scope="session")
def built(tmp_path_factory, pki):
    """``built(kind)`` -> (version, pristine data dir, peer URL, name, marks, state), each built once."""
    made = {}

    def build(kind):
        if kind in made:
            return made[kind]
        base = tmp_path_factory.mktemp(kind)
        data_dir, marks, state = base / "data", None, None
        if kind == "v3-3.3-tls":
            version, name, peer, extra = "3.3.25", "etcd-k8s", "https://127.0.0.1:%d" % free_port(), pki
        elif kind == "v3-3.5-plain":
            version, name, peer, extra = etcd_version("3.5"), "etcd-env", "http://127.0.0.1:%d" % free_port(), []
        else:  # v2-3.3-tls
            version, name, peer, extra = "3.3.25", "etcd-k8s", "https://127.0.0.1:%d" % free_port(), pki
        with running_etcd(version, data_dir, base, **tls_member_settings(name, peer, extra)) as member:
            if kind.startswith("v2"):
                for key, value in V2_KEYS.items():
                    member.v2("PUT", key, {"value": value})
                for key, value in TTL_KEYS.items():
                    member.v2("PUT", key, {"value": value, "ttl": 600})
            else:
                marks = write_sample_data(member, keys=10)
                state = read_state(member, marks)
            ids = member.status()["header"]
        (data_dir / "version.txt").write_text("%s/%s" % (version, "etcd2" if kind.startswith("v2") else "etcd3"))
        made[kind] = (version, data_dir, peer, name, marks, state, ids, extra)
        return made[kind]

    return build


@pytest.fixture
def copy_of(built, tmp_path):
    def copy(kind):
        version, pristine, peer, name, marks, state, ids, extra = built(kind)
        target = tmp_path / kind / "data"
        target.parent.mkdir(parents=True)
        copy_tree(pristine, target)
        return version, target, peer, name, marks, state, ids, extra
    return copy


# --- running the CLI and watching it ---------------------------------------

def etcd_listeners(parent_pid):
    """Addresses that etcd processes started by ``parent_pid`` listen on right now."""
    found = set()
    for line in subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines():
        match = LISTENER.match(line)
        if not match or '"etcd"' not in line:
            continue
        try:
            with open("/proc/%s/status" % match.group(3)) as status:
                ppid = int(re.search(r"^PPid:\s+(\d+)", status.read(), re.M).group(1))
        except (IOError, AttributeError):
            continue
        if ppid == parent_pid:
            found.add(match.group(1))
    return found


def run_cli(env, tmp_path, argv=(), python=sys.executable, cli=CLI):
    """Run the CLI with exactly ``env`` (plus PATH); returns (exit code, stdout, stderr, listen addresses seen)."""
    env = dict(env, PATH=os.environ["PATH"])
    with open(tmp_path / "cli.out", "w+") as out, open(tmp_path / "cli.err", "w+") as err:
        proc = subprocess.Popen([python, str(cli), "--port", str(free_port())] + list(argv), env=env,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        seen, deadline = set(), time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= etcd_listeners(proc.pid)
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), seen


def assert_loopback_only(seen):
    assert seen, "no temporary etcd was seen listening: the watch proves nothing"
    assert seen <= {"127.0.0.1"}, "a temporary etcd listened on %s" % sorted(seen)


def manifest_env(data_dir, peer, name_vars, pki, target, storage="etcd3"):
    """The environment block of Kubernetes' etcd manifest (peer mTLS through ETCD_CREDS)."""
    env = {
        "TARGET_STORAGE": storage, "TARGET_VERSION": target, "DO_NOT_MOVE_BINARIES": "true",
        "DATA_DIRECTORY": str(data_dir), "INITIAL_CLUSTER": "%s=%s" % (_name(name_vars), peer),
        "LISTEN_PEER_URLS": peer, "INITIAL_ADVERTISE_PEER_URLS": peer,
        "LISTEN_CLIENT_URLS": "http://0.0.0.0:2379",
        "ETCD_CREDS": " ".join(pki), "ETCD_APISERVER_CREDS": "--cert-file=/nonexistent/apiserver.crt",
        "ETCD_SNAPSHOT_COUNT": "10000", "ETCDCTL_API": "3", "ETCD_BIN_DIR": str(BIN_ROOT),
    }
    env.update(name_vars)
    return env


def _name(name_vars):
    if name_vars.get("ETCD_NAME"):
        return name_vars["ETCD_NAME"]
    return "etcd-" + (name_vars.get("ETCD_HOSTNAME") or name_vars["HOSTNAME"])


def state_after(version, data_dir, tmp_path, name, peer, extra, marks):
    with running_etcd(version, data_dir, tmp_path, **tls_member_settings(name, peer, extra)) as member:
        return read_state(member, marks), member.version_info(), member.status()["header"]


# --- the cases of the reference's own integration test ----------------------

def test_manifest_environment_with_peer_mtls_up_several_minors(copy_of, pki, tmp_path):
    """ETCD_HOSTNAME names the member, as the stock manifest sets only that; 3.3 -> 3.4 -> 3.5."""
    version, data_dir, peer, name, marks, before, ids, _extra = copy_of("v3-3.3-tls")
    target = etcd_version("3.5")
    env = manifest_env(data_dir, peer, {"ETCD_HOSTNAME": "k8s"}, pki, target)
    code, out, err, seen = run_cli(env, tmp_path)
    assert code == 0, err
    assert '"binary": "3.4.23"' in out and '"binary": "%s"' % target in out
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    assert_loopback_only(seen)
    after, info, header = state_after(target, data_dir, tmp_path, name, peer, pki, marks)
    assert after == before
    assert info["etcdcluster"] == "3.5.0" and header["member_id"] == ids["member_id"]


def test_environment_file_of_etcd_settings_down_one_minor(copy_of, tmp_path):
    """An EnvironmentFile of ETCD_* settings (as Debian and kubespray lay it out) reaches no temporary etcd."""
    version, data_dir, peer, name, marks, before, ids, _extra = copy_of("v3-3.5-plain")
    metrics = free_port()
    env = {
        "TARGET_VERSION": "3.4.23", "DATA_DIRECTORY": str(data_dir), "ETCD_BIN_DIR": str(BIN_ROOT),
        "ETCD_NAME": name, "ETCD_SNAPSHOT_COUNT": "10000", "ETCD_DATA_DIR": "/var/lib/etcd",
        "ETCD_LISTEN_METRICS_URLS": "http://0.0.0.0:%d" % metrics,
        "ETCD_LISTEN_CLIENT_URLS": "http://0.0.0.0:%d" % free_port(),
        "ETCD_INITIAL_CLUSTER": "%s=http://192.0.2.1:2380" % name, "ETCD_INITIAL_CLUSTER_STATE": "existing",
        "ETCDCTL_ENDPOINTS": "http://192.0.2.1:2379",
    }
    code, out, err, seen = run_cli(env, tmp_path, ["--listen-peer-urls", peer])
    assert code == 0, err
    assert '"action": "downgrade-snapshot"' in out
    assert "changed the member id" not in err  # ETCD_NAME named the member as it was bootstrapped
    assert_loopback_only(seen)
    after, info, header = state_after("3.4.23", data_dir, tmp_path, name, peer, [], marks)
    assert after == before
    assert info["etcdcluster"] == "3.4.0" and header["member_id"] == ids["member_id"]


def test_etcd3_to_etcd2_keeps_peer_mtls_and_every_key(copy_of, pki, tmp_path):
    """$HOSTNAME names the member; the fresh v2-store member gets ETCD_CREDS too (3.3 needs them for https peers)."""
    version, data_dir, peer, name, _marks, before, _ids, _extra = copy_of("v3-3.3-tls")
    env = manifest_env(data_dir, peer, {"HOSTNAME": "k8s"}, pki, version, storage="etcd2")
    code, out, err, seen = run_cli(env, tmp_path)
    assert code == 0, err
    assert (data_dir / "version.txt").read_text() == "%s/etcd2" % version
    assert_loopback_only(seen)
    with running_etcd(version, data_dir, tmp_path, **tls_member_settings(name, peer, pki)) as member:
        served = v2_keys(member)
    assert {k: v for k, (v, _ttl) in served.items()} == {k: kv[0] for k, kv in before["kvs"].items()}
    leased = {k for k, kv in before["kvs"].items() if kv[4]}
    assert leased and all(0 < served[k][1] <= 3600 for k in leased)
    assert all(served[k][1] is None for k in set(served) - leased)


def test_etcd2_to_etcd3_leases_the_keys_under_the_data_prefix(copy_of, pki, tmp_path):
    """An empty ETCD_NAME counts as unset; ETCD_DATA_PREFIX=/custom makes /custom/events the TTL-keys directory."""
    version, data_dir, peer, name, _marks, _before, _ids, _extra = copy_of("v2-3.3-tls")
    env = manifest_env(data_dir, peer, {"ETCD_NAME": "", "ETCD_HOSTNAME": "k8s"}, pki, "3.4.23")
    env["ETCD_DATA_PREFIX"] = "/custom"
    code, out, err, seen = run_cli(env, tmp_path)
    assert code == 0, err
    assert '"action": "convert-etcd2-to-etcd3"' in out
    assert (data_dir / "version.txt").read_text() == "3.4.23/etcd3"
    assert_loopback_only(seen)
    with running_etcd("3.4.23", data_dir, tmp_path, **tls_member_settings(name, peer, pki)) as member:
        assert_converted_from_etcd2(member, V2_KEYS, TTL_KEYS)


# --- what Kubernetes' own migrate leaves behind ------------------------------

KUBERNETES_LEFTOVERS = [("version.txt-next", "3.4.23/etc", ""), ("version.txt", "", "\n")]


@pytest.mark.parametrize("leftover, content, at_first_boot", KUBERNETES_LEFTOVERS)
def test_what_kubernetes_migrate_left_on_a_full_disk_is_read_past(copy_of, tmp_path, leftover, content, at_first_boot):
    """Kubernetes' migrate writes version.txt-next and renames it over version.txt: killed or out of space in between
    it leaves that file, and on a full disk it emptied version.txt, then looped on it (kubernetes#98989). Both are
    read past: the version comes from the data, and a dir holding nothing else is a first boot."""
    version, data_dir, peer, name, marks, before, ids, _extra = copy_of("v3-3.5-plain")
    (data_dir / leftover).write_text(content)
    env = {"TARGET_VERSION": "3.4.23", "DATA_DIRECTORY": str(data_dir), "ETCD_BIN_DIR": str(BIN_ROOT),
           "ETCD_NAME": name, "LISTEN_PEER_URLS": peer}
    code, out, err, _seen = run_cli(env, tmp_path)
    assert code == 0, err
    assert '"action": "downgrade-snapshot"' in out
    if leftover == "version.txt":  # the version was read from the data
        assert '"cluster_version": "3.5"' in out
    else:
        assert "removed %s" % (data_dir / leftover) in err
    assert sorted(p.name for p in data_dir.iterdir()) == ["member", "version.txt"]
    assert (data_dir / "version.txt").read_text() == "3.4.23/etcd3"
    after, info, header = state_after("3.4.23", data_dir, tmp_path, name, peer, [], marks)
    assert after == before and header["member_id"] == ids["member_id"]

    first_boot = tmp_path / "first-boot"
    first_boot.mkdir()
    (first_boot / leftover).write_text(at_first_boot)
    code, out, err, _seen = run_cli(dict(env, DATA_DIRECTORY=str(first_boot)), tmp_path)
    assert code == 0, err
    assert sorted(p.name for p in first_boot.iterdir()) == ["version.txt"]
    assert (first_boot / "version.txt").read_text() == "3.4.23/etcd3"


def test_the_flags_of_kubernetes_migrate_if_needed_sh(copy_of, tmp_path):
    """The image's wrapper script ran migrate with these flags, --bundled-versions among them."""
    version, data_dir, peer, name, marks, before, ids, _extra = copy_of("v3-3.5-plain")
    target = etcd_version("3.6")
    argv = ["--name", name, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--data-dir", str(data_dir), "--bundled-versions", "%s, %s" % (version, target),
            "--initial-cluster", "%s=%s" % (name, peer), "--target-version", target, "--target-storage", "etcd3",
            "--etcd-data-prefix", "/registry", "--ttl-keys-directory", "/registry/events",
            "--etcd-server-extra-args", ""]
    code, out, err, seen = run_cli({"ETCD_BIN_DIR": str(BIN_ROOT)}, tmp_path, argv)
    assert code == 0, err
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    assert_loopback_only(seen)
    after, info, header = state_after(target, data_dir, tmp_path, name, peer, [], marks)
    assert after == before and info["etcdserver"] == target and header["member_id"] == ids["member_id"]


def test_peer_port_is_the_temporary_members_peer_port(copy_of, tmp_path):
    """--peer-port (Kubernetes' migrate flag) places the temporary member's peer listener when no peer URLs are
    given: a process holding that port makes the run refuse before anything changes."""
    version, data_dir, _peer, name, _marks, _before, _ids, _extra = copy_of("v3-3.5-plain")
    port = free_port()
    env = {"TARGET_VERSION": etcd_version("3.6"), "DATA_DIRECTORY": str(data_dir), "ETCD_BIN_DIR": str(BIN_ROOT),
           "ETCD_NAME": name}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        code, out, err, _seen = run_cli(env, tmp_path, ["--peer-port", str(port)])
    assert code == 1, err
    assert "port %d on 127.0.0.1 is in use" % port in err
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % version


def test_a_flag_given_empty_counts_as_unset_as_in_kubernetes_migrate(copy_of, pki, tmp_path):
    """A wrapper's --etcd-data-prefix "$ETCD_DATA_PREFIX" with the variable unset: Kubernetes' migrate falls back to
    the variable, then the default, so /registry/events keys still get their lease."""
    version, data_dir, peer, name, _marks, _before, _ids, _extra = copy_of("v2-3.3-tls")
    env = manifest_env(data_dir, peer, {"ETCD_HOSTNAME": "k8s"}, pki, "3.4.23")
    env["ETCD_DATA_PREFIX"] = "/custom"
    code, out, err, seen = run_cli(env, tmp_path, ["--etcd-data-prefix", "", "--name", ""])
    assert code == 0, err
    assert '"action": "convert-etcd2-to-etcd3"' in out
    with running_etcd("3.4.23", data_dir, tmp_path, **tls_member_settings(name, peer, pki)) as member:
        assert_converted_from_etcd2(member, V2_KEYS, TTL_KEYS)


def test_v2_keys_beside_the_v3_data_do_not_stop_a_move_to_35(tmp_path):
    """v2 keys next to the v3 data (flannel's network config, or the v2 copy Kubernetes' etcd2 -> etcd3 conversion
    kept): 3.5 runs on them and only 3.6 refuses them, so a 3.5 target is done, with a warning about 3.6."""
    data_dir, peer = tmp_path / "data", "http://127.0.0.1:%d" % free_port()
    settings = tls_member_settings("etcd-k8s", peer, ["--enable-v2=true"])
    with running_etcd("3.4.23", data_dir, tmp_path, **settings) as member:
        member.v2("PUT", "/coreos.com/network/config", {"value": '{"Network": "10.244.0.0/16"}'})
        marks = write_sample_data(member, keys=10)
        before = read_state(member, marks)
    (data_dir / "version.txt").write_text("3.4.23/etcd3")
    target = etcd_version("3.5")
    env = {"TARGET_VERSION": target, "DATA_DIRECTORY": str(data_dir), "ETCD_BIN_DIR": str(BIN_ROOT),
           "ETCD_NAME": "etcd-k8s", "LISTEN_PEER_URLS": peer}
    code, out, err, seen = run_cli(env, tmp_path)
    assert code == 0, err
    assert "warning: the data is not ready for etcd 3.6: the newest .snap holds custom v2 data" in err
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    after, info, _header = state_after(target, data_dir, tmp_path, "etcd-k8s", peer, [], marks)
    assert after == before and info["etcdserver"] == target


# --- three members with peer mTLS, one at a time -----------------------------

def test_three_members_with_peer_mtls_move_one_minor_one_at_a_time(pki, tmp_path):
    target = etcd_version("3.5")
    names = ["etcd-0", "etcd-1", "etcd-2"]
    peers = {name: "https://127.0.0.1:%d" % free_port() for name in names}
    cluster = ",".join("%s=%s" % item for item in peers.items())
    ports = {name: free_port() for name in names}

    def member(name, version):
        return Member(Toolset(BIN_ROOT, version), str(tmp_path / name), str(tmp_path / ("%s-%s.log" % (name, version))),
                      name=name, client_port=ports[name], listen_peer_urls=peers[name], initial_cluster=cluster,
                      extra_args=pki)

    running = {name: member(name, "3.4.23") for name in names}
    try:
        for m in running.values():
            m.start()
        for m in running.values():
            m.wait_ready(60)
        first = running["etcd-0"]
        for i in range(10):
            first.ctl("put", "/ha/key-%d" % i, "value-%d" % i)
        ids = sorted(m["ID"] for m in first.ctl_json("member", "list")["members"])
        wanted = {"/ha/key-%d" % i: "value-%d" % i for i in range(10)}
        for index, name in enumerate(names):
            running[name].stop()
            (tmp_path / name / "version.txt").write_text("3.4.23/etcd3")
            other = running[names[(index + 1) % 3]]
            other.ctl("put", "/ha/while-%s-down" % name, "x")  # the other two serve meanwhile
            wanted["/ha/while-%s-down" % name] = "x"
            env = {"TARGET_STORAGE": "etcd3", "TARGET_VERSION": target, "DATA_DIRECTORY": str(tmp_path / name),
                   "ETCD_NAME": name, "INITIAL_CLUSTER": cluster, "LISTEN_PEER_URLS": peers[name],
                   "INITIAL_ADVERTISE_PEER_URLS": peers[name], "ETCD_CREDS": " ".join(pki),
                   "ETCD_SNAPSHOT_COUNT": "10000", "ETCDCTL_API": "3", "ETCD_BIN_DIR": str(BIN_ROOT)}
            code, out, err, seen = run_cli(env, tmp_path)
            assert code == 0, err
            assert "does the hop itself" in err and not seen  # only version.txt changed: no temporary etcd
            assert (tmp_path / name / "version.txt").read_text() == "%s/etcd3" % target
            running[name] = member(name, target).start()
            running[name].wait_ready(60)
        for name, m in running.items():
            m.wait_ready(60, cluster_version="3.5.0")
            got = m.ctl_json("get", "/ha/", "--prefix", "--consistency=s")  # this member's own copy
            assert {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
                    for kv in got["kvs"]} == wanted, name
            assert m.version_info()["etcdserver"] == target
        assert sorted(m["ID"] for m in first.ctl_json("member", "list")["members"]) == ids
    finally:
        for m in running.values():
            m.stop()


# The server role's tasks that install etcd-migrate under /usr/local (bin/ and lib/etcd-migrate/).
INSTALL_TASKS = ("Install etcd-migrate's package for the unit's ExecStartPre", "Install etcd-migrate")


def install_like_the_server_role(tmp_path):
    """Run the server role's own install tasks for etcd-migrate with <tmp>/usr-local for /usr/local: what a host
    gets, files picked by the role's archive (a package directory the role forgets is missing here too)."""
    prefix = tmp_path / "usr-local"
    (prefix / "bin").mkdir(parents=True)
    tasks = [task for task in yaml.safe_load((COLLECTION / "roles" / "server" / "tasks" / "install.yml").read_text())
             if task["name"] in INSTALL_TASKS]
    assert [task["name"] for task in tasks] == list(INSTALL_TASKS)

    def on_this_host(task):
        """The task writing under <tmp>/usr-local as this user; a block's tasks each."""
        if task["name"] in INSTALL_TASKS:
            task.pop("when", None)
        for inner in task.get("block", []) + task.get("always", []):
            on_this_host(inner)
        for module in ("ansible.builtin.file", "ansible.builtin.copy", "ansible.builtin.unarchive"):
            args = task.get(module)
            if args is None or args.get("path", "").startswith("{{"):
                continue
            args.pop("owner", None), args.pop("group", None)
            for key in ("path", "dest"):
                if key in args:
                    assert args[key].startswith("/usr/local/")
                    args[key] = str(prefix) + args[key][len("/usr/local"):]

    for task in tasks:
        on_this_host(task)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks,
             "vars": {"role_path": str(COLLECTION / "roles" / "server"), "ansible_python_interpreter": sys.executable}}]
    (tmp_path / "install.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-c", "local", "-i", "localhost,",
                    str(tmp_path / "install.yml")], env=env, check=True, capture_output=True)
    return prefix


# --- a host with Python and semver only --------------------------------------

def test_the_installed_cli_runs_on_a_python_without_ansible(copy_of, tmp_path):
    import semver

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(os.path.dirname(semver.__file__), os.path.join(site, "semver"))
    assert subprocess.run([str(python), "-c", "import ansible"], capture_output=True, check=False).returncode != 0
    prefix = install_like_the_server_role(tmp_path)
    version, data_dir, peer, name, marks, before, ids, _extra = copy_of("v3-3.5-plain")
    target = etcd_version("3.6")
    env = {"TARGET_VERSION": target, "DATA_DIRECTORY": str(data_dir), "ETCD_BIN_DIR": str(BIN_ROOT), "ETCD_NAME": name}
    code, out, err, seen = run_cli(env, tmp_path, ["--listen-peer-urls", peer], python=str(python),
                                   cli=prefix / "bin" / "etcd-migrate")
    assert code == 0, err
    assert '"binary": "%s"' % target in out
    assert_loopback_only(seen)
    after, info, _header = state_after(target, data_dir, tmp_path, name, peer, [], marks)
    assert after == before and info["etcdserver"] == target
