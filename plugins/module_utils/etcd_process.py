# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Run real etcd binaries: a temporary single member on loopback, and its tools."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import json
import os
import platform
import re
import signal
import socket
import subprocess
import time

from urllib.parse import quote, urlencode, urlparse
from urllib.request import ProxyHandler, Request, build_opener

from .compat import ARCH_GATE_LIFTED, ETCDCTL_V3_DEFAULT, V3_GATEWAY, holds
from .options import DEFAULTS
from .versions import MigrationError, parse_version

SNAP_FILE = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")
# The standard library, not ansible's urls, so that the command line runs without ansible-core;
# no proxy handler, so a caller's http_proxy never carries calls to the loopback member.
_HTTP = build_opener(ProxyHandler({}))


def _http_json(url, data=None, method=None, headers=None, timeout=30):
    request = Request(url, data=None if data is None else data.encode("utf-8"), method=method, headers=headers or {})
    with _HTTP.open(request, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def clean_environment(**wanted):
    """The caller's environment without any ETCD_* or ETCDCTL_*, plus ``wanted``.

    etcd reads every ETCD_* variable as a flag (and from 3.4 exits when one
    names a flag it is also given), etcdctl every ETCDCTL_*: only what the
    engine sets on purpose may reach them.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    env.update(wanted)
    return env


def forget_inherited_settings(environ=None):
    """Drop every ETCD_* and ETCDCTL_* from this process's environment (os.environ by default).

    For modules: run_command only adds to the module's environment, so an inherited
    ETCDCTL_ENDPOINTS or ETCD_* would otherwise redirect etcdctl or reach etcd.
    """
    environ = os.environ if environ is None else environ
    for name in [name for name in environ if name.startswith(("ETCD_", "ETCDCTL_"))]:
        del environ[name]


def server_environment(version, machine=None):
    """The environment of an etcd server: clean, plus the arch override etcd 3.2-3.4 need on arm64.

    Their checkSupportArch refuses arm64 unless ETCD_UNSUPPORTED_ARCH names it.
    """
    if not holds(ARCH_GATE_LIFTED, version) and (machine or platform.machine()) in ("aarch64", "arm64"):
        return clean_environment(ETCD_UNSUPPORTED_ARCH="arm64")
    return clean_environment()


class Toolset:
    """The etcd, etcdctl and etcdutl of one version under ``<bin_dir>/<version>/``."""

    def __init__(self, bin_dir, version):
        self.version = parse_version(str(version))
        self.dir = os.path.join(bin_dir, str(version))

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def has_etcdutl(self):
        return os.access(self.path("etcdutl"), os.X_OK)

    def run(self, tool, args, timeout=60, check=True):
        # Older etcdctl default to the v2 API.
        env = clean_environment(ETCDCTL_API="3") if not holds(ETCDCTL_V3_DEFAULT, self.version) else clean_environment()
        # No run_command: bin/etcd-migrate runs this without ansible-core.
        proc = subprocess.run([self.path(tool)] + list(args), env=env, capture_output=True, text=True,  # pylint: disable=ansible-bad-function
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise MigrationError("%s %s %s failed (exit %d): %s" % (
                tool, self.version, " ".join(args), proc.returncode, (proc.stderr or proc.stdout).strip()[-2000:]))
        return proc


def available_versions(bin_dir):
    """Versions with a runnable etcd under ``bin_dir`` (directories that are not versions are ignored)."""
    found = []
    if not os.path.isdir(bin_dir):
        return found
    for name in os.listdir(bin_dir):
        if os.access(os.path.join(bin_dir, name, "etcd"), os.X_OK):
            try:
                found.append(parse_version(name))
            except MigrationError:
                continue
    return sorted(found)


def listen_addresses(client_port, listen_peer_urls):
    """(host, port) pairs a temporary member listens on: loopback for clients, ``listen_peer_urls`` for peers."""
    return [("127.0.0.1", client_port)] + [(url.hostname, url.port)
                                           for url in map(urlparse, str(listen_peer_urls).split(","))]


def check_port_free(host, port):
    """Refuse to start next to another process on our port: it, not our etcd, would answer."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as etcd (Go) binds
        probe.bind((host, port))
    except (IOError, OSError) as exc:
        if exc.errno == errno.EADDRINUSE:
            raise MigrationError("port %d on %s is in use by another process: the temporary etcd needs it; stop that "
                                 "process or choose another port (client_port, listen_peer_urls)" % (port, host))
        raise MigrationError("cannot listen on %s:%d (%s): give a local address in listen_peer_urls"
                             % (host, port, exc.strerror or exc))
    finally:
        probe.close()


def _die_with_parent():
    # If the migration process is killed, etcd gets SIGTERM and releases the data dir.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EtcdBinaries:
    """The etcd releases under ``bin_dir`` (``<bin_dir>/<version>/etcd``...): the seam through which the engine
    and the steps run etcd, replaced by a stand-in in unit tests."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir

    def versions(self):
        return available_versions(self.bin_dir) if self.bin_dir else []

    def tools(self, version):
        return Toolset(self.bin_dir, version)

    def member(self, version, data_dir, log_path, **settings):
        return Member(self.tools(version), data_dir, log_path, **settings)


class Member:
    """A temporary single-member etcd on a data dir, listening on loopback only."""

    def __init__(self, toolset, data_dir, log_path, name="default", client_port=DEFAULTS["client_port"],
                 listen_peer_urls=DEFAULTS["listen_peer_urls"], initial_advertise_peer_urls=None,
                 initial_cluster=None, initial_cluster_token=None, extra_args=(), snapshot_count=None, wal_dir=None):
        self.tools = toolset
        self.data_dir = data_dir
        self.log_path = log_path
        self.client_url = "http://127.0.0.1:%d" % client_port
        advertise = initial_advertise_peer_urls or listen_peer_urls
        self.listen = listen_addresses(client_port, listen_peer_urls)
        self.args = [
            "--name", name, "--data-dir", data_dir,
            "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", listen_peer_urls, "--initial-advertise-peer-urls", advertise,
            "--initial-cluster", initial_cluster or "%s=%s" % (name, advertise),
        ]
        if wal_dir:
            self.args += ["--wal-dir", wal_dir]
        if initial_cluster_token:
            self.args += ["--initial-cluster-token", initial_cluster_token]
        if snapshot_count is not None:
            self.args += ["--snapshot-count", str(snapshot_count)]
        self.args += list(extra_args)
        self.proc = None

    # --- life cycle -----------------------------------------------------

    def start(self):
        for host, port in self.listen:
            check_port_free(host, port)
        with open(self.log_path, "ab") as log:
            # A member that outlives one call: run_command cannot leave a process running.
            self.proc = subprocess.Popen([self.tools.path("etcd")] + self.args, stdout=log, stderr=log,  # pylint: disable=ansible-bad-function
                                         stdin=subprocess.DEVNULL, env=server_environment(self.tools.version),
                                         preexec_fn=_die_with_parent)
        return self

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after ``timeout``; a member that had to be killed is an error."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise MigrationError("etcd %s did not stop within %ss of SIGTERM and was killed"
                                 % (self.tools.version, timeout))
        if self.proc.returncode not in (0, -signal.SIGTERM):
            raise MigrationError("etcd %s exited with %s on shutdown" % (self.tools.version, self.proc.returncode))

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except MigrationError:
            if exc_type is None:
                raise

    # --- observation ----------------------------------------------------

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(handle.tell() - 16384, 0))
                text = handle.read().decode("utf-8", "replace")
        except IOError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _check_running(self):
        if self.proc.poll() is not None:
            raise MigrationError("etcd %s exited with %s before it was ready; its log ends with:\n%s"
                                 % (self.tools.version, self.proc.returncode, self.log_tail()))

    def ctl(self, *args, **kwargs):
        return self.tools.run("etcdctl", ["--endpoints", self.client_url, "--command-timeout=10s"] + list(args),
                              **kwargs)

    def ctl_json(self, *args):
        return json.loads(self.ctl(*(args + ("-w", "json"))).stdout)

    def status(self):
        return self.ctl_json("endpoint", "status")[0]["Status"]

    def _get_json(self, path):
        return _http_json(self.client_url + path, timeout=2)

    def version_info(self):
        return self._get_json("/version")

    def v3(self, rpc, body):
        """A v3 call through the gRPC gateway (``/v3beta`` before 3.4), binary-safe with base64 fields."""
        prefix = "/v3" if holds(V3_GATEWAY, self.tools.version) else "/v3beta"
        return _http_json(self.client_url + prefix + rpc, data=json.dumps(body), method="POST",
                          headers={"Content-Type": "application/json"})

    def v2(self, method, key, form=None, query=None):
        """A v2 keys API call; ``key`` is the v2 path, e.g. ``/registry/pods/a``."""
        url = self.client_url + "/v2/keys" + quote(key) + ("?" + urlencode(query) if query else "")
        data = urlencode(form) if form else None
        return _http_json(url, data=data, method=method,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})

    def wait_ready(self, timeout, cluster_version=None, storage_version=None, condition=None, what=None):
        """Wait until /health is true, /version reports the wanted versions and ``condition`` holds."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._check_running()
            try:
                info = self.version_info()
                last = "/version said %s" % json.dumps(info, sort_keys=True)
                versions_ok = ((cluster_version is None or info.get("etcdcluster") == cluster_version)
                               and (storage_version is None or info.get("storage") == storage_version))
                if versions_ok and self._get_json("/health").get("health") == "true":
                    if condition is None or condition(self):
                        return info
                    last = "waiting for %s" % what
            except (IOError, OSError, ValueError) as exc:  # not listening yet, or 503 while unhealthy
                last = str(exc)
            time.sleep(0.05)
        raise MigrationError("etcd %s was not ready within %ss (wanted cluster version %s%s; %s); its log ends with:\n%s"
                             % (self.tools.version, timeout, cluster_version,
                                ", storage version %s" % storage_version if storage_version else "", last,
                                self.log_tail()))

    def snapshot_indexes(self):
        snap_dir = os.path.join(self.data_dir, "member", "snap")
        return [int(m.group(2), 16) for m in (SNAP_FILE.match(n) for n in os.listdir(snap_dir)) if m]

    def force_snapshot(self, timeout):
        """Make etcd cut a snapshot covering everything applied so far.

        Run with ``--snapshot-count=1``: two no-op raft entries (an alarm
        deactivation with no alarm raised) push the applied index past the
        count, and a ``.snap`` at or beyond the current index proves the WAL
        tail holds nothing older.  The next minor then replays no v2-era
        entries.  Through the gateway (3.5+), to spare three etcdctl runs.
        """
        status = self.v3("/maintenance/status", {})
        applied = int(status.get("raftAppliedIndex") or status["raftIndex"])
        for _entry in range(2):
            self.v3("/maintenance/alarm", {"action": "DEACTIVATE"})
        self.wait_ready(timeout, condition=lambda m: max(m.snapshot_indexes() or [0]) >= applied,
                        what="a snapshot at raft index %d" % applied)
