"""The pki role on this machine: a cluster CA and per-member certificates that a real three-member etcd cluster
serves with, client and peer TLS with client-certificate authentication, on loopback.

A pki run costs tens of seconds: the certificates issued once per module are shared by the tests that only read
them; a test that changes them works on its own copy."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import BIN_ROOT, ROOT, etcd_version, free_port

ANSIBLE_BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"), ANSIBLE_NOCOLOR="1",
           ANSIBLE_HOST_KEY_CHECKING="False")
MEMBERS = ("m1", "m2", "m3")


def run_pki(root, **extra):
    inventory = {"all": {"hosts": {name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                          "etcd_pki_dir": str(root / name / "pki")} for name in MEMBERS},
                         "vars": {"etcd_pki_controller_dir": str(root / "controller"), "etcd_pki_owner": "root",
                                  "etcd_pki_group": "root", "etcd_pki_addresses": ["127.0.0.1"], **extra}}}
    (root / "inventory.json").write_text(json.dumps(inventory))
    (root / "play.yml").write_text("- hosts: all\n  gather_facts: false\n  roles: [etcdops.etcd.pki]\n")
    proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(root / "inventory.json"),
                           str(root / "play.yml")], env=ENV, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """The role's files for the three members, issued once with the defaults; read-only for the tests."""
    root = tmp_path_factory.mktemp("pki-issued")
    run_pki(root)
    return root


@pytest.fixture(scope="module")
def issued_for_10_days(tmp_path_factory):
    """Certificates issued for 10 days: within the 30-day window of renewal and of the pre-flight's warnings."""
    root = tmp_path_factory.mktemp("pki-10-days")
    run_pki(root, etcd_pki_days=10)
    return root


def changed_count(output):
    return sum(int(line.split("changed=")[1].split()[0]) for line in output.splitlines() if "changed=" in line)


def serial(cert):
    return subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(cert)], capture_output=True, text=True,
                          check=True).stdout


def tls_cluster(pki_root, tmp_path, version):
    """Three members on the pki role's files (under pki_root), each started from an etcd.conf.yml as the server
    role writes it (under tmp_path)."""
    ports = {name: (free_port(), free_port()) for name in MEMBERS}
    initial = ",".join("%s=https://127.0.0.1:%d" % (name, ports[name][1]) for name in MEMBERS)
    procs = []
    for name in MEMBERS:
        pki = pki_root / name / "pki"
        client, peer = ports[name]
        config = {"name": name, "data-dir": str(tmp_path / name / "data"),
                  "listen-client-urls": "https://127.0.0.1:%d" % client,
                  "advertise-client-urls": "https://127.0.0.1:%d" % client,
                  "listen-peer-urls": "https://127.0.0.1:%d" % peer,
                  "initial-advertise-peer-urls": "https://127.0.0.1:%d" % peer,
                  "initial-cluster": initial, "initial-cluster-token": "pki-test", "initial-cluster-state": "new"}
        for section, kind in (("client-transport-security", "server"), ("peer-transport-security", "peer")):
            config[section] = {"cert-file": str(pki / (kind + ".crt")), "key-file": str(pki / (kind + ".key")),
                               "trusted-ca-file": str(pki / "ca.crt"), "client-cert-auth": True}
        (tmp_path / name / "etc").mkdir(parents=True)
        (tmp_path / name / "etc" / "etcd.conf.yml").write_text(json.dumps(config))
        log = open(tmp_path / ("%s.log" % name), "w")
        procs.append(subprocess.Popen([str(BIN_ROOT / version / "etcd"), "--config-file",
                                       str(tmp_path / name / "etc" / "etcd.conf.yml")],
                                      stdout=log, stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin"}))
    return procs, ["https://127.0.0.1:%d" % ports[name][0] for name in MEMBERS]


def wait_healthy(version, endpoints, pki_root, tmp_path):
    deadline = time.monotonic() + 60
    while True:
        health = etcdctl(version, endpoints, "endpoint", "health", cert_of="m1", pki_root=pki_root)
        if health.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert health.returncode == 0, health.stdout + health.stderr + (tmp_path / "m1.log").read_text()[-3000:]


def stop(procs):
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(30)


def etcdctl(version, endpoints, *args, cert_of=None, pki_root=None):
    tls = []
    if cert_of:
        pki = pki_root / cert_of / "pki"
        tls = ["--cacert", str(pki / "ca.crt"), "--cert", str(pki / "client.crt"), "--key", str(pki / "client.key")]
    return subprocess.run([str(BIN_ROOT / version / "etcdctl"), "--endpoints", ",".join(endpoints),
                           "--command-timeout", "5s", "--dial-timeout", "3s"] + tls + list(args),
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "ETCDCTL_API": "3"}, check=False)


@pytest.mark.parametrize("spec", ["3.4", "3.7"])
def test_a_cluster_serves_with_the_roles_certificates_and_refuses_clients_without_one(issued, tmp_path, spec):
    version = etcd_version(spec)
    procs, endpoints = tls_cluster(issued, tmp_path, version)
    try:
        wait_healthy(version, endpoints, issued, tmp_path)
        # Each member's own client certificate writes and reads through every member.
        for name, endpoint in zip(MEMBERS, endpoints):
            assert etcdctl(version, [endpoint], "put", "key-" + name, name, cert_of=name,
                           pki_root=issued).returncode == 0
        got = etcdctl(version, endpoints[:1], "get", "--prefix", "key-", "--print-value-only", cert_of="m3",
                      pki_root=issued)
        assert got.stdout.split() == list(MEMBERS)
        # Without a client certificate, or over plain HTTP, nothing is served.
        no_cert = etcdctl(version, endpoints[:1], "--cacert", str(issued / "m1" / "pki" / "ca.crt"),
                          "get", "key-m1")
        assert no_cert.returncode != 0 and "key-m1" not in no_cert.stdout
        plain = etcdctl(version, [endpoints[0].replace("https", "http")], "get", "key-m1")
        assert plain.returncode != 0 and "key-m1" not in plain.stdout
    finally:
        stop(procs)


def test_a_second_run_changes_nothing_and_keys_stay_private(issued):
    assert changed_count(run_pki(issued)) == 0
    for name in MEMBERS:
        pki = issued / name / "pki"
        assert sorted(p.name for p in pki.iterdir()) == ["ca.crt", "client.crt", "client.key", "peer.crt",
                                                         "peer.key", "server.crt", "server.key"]
        assert all((pki / f).stat().st_mode & 0o777 == 0o600 for f in ("client.key", "peer.key", "server.key"))
    assert (issued / "controller" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_only_a_file_that_differs_on_a_member_is_copied_again(issued, tmp_path):
    root = tmp_path / "pki"
    shutil.copytree(issued, root)
    (root / "m1" / "pki" / "ca.crt").write_text("not the CA")
    (root / "m2" / "pki" / "peer.key").chmod(0o644)
    out = run_pki(root)
    copied = sorted(line.split(" => ")[0] + " " + line.split("(item=")[1].rstrip(")")
                    for line in out.splitlines() if line.startswith("changed: ") and "(item=" in line)
    assert copied == ["changed: [m1] ca.crt", "changed: [m2] peer.key"]
    assert (root / "m1" / "pki" / "ca.crt").read_bytes() == (root / "controller" / "ca.crt").read_bytes()
    assert (root / "m2" / "pki" / "peer.key").stat().st_mode & 0o777 == 0o600
    assert "(item=server.crt)" not in out  # the files in place are not even compared by a copy
    assert changed_count(run_pki(root)) == 0


def test_an_owner_and_group_given_as_numbers_are_in_place_on_a_second_run(issued, tmp_path):
    root = tmp_path / "pki"
    shutil.copytree(issued, root)
    assert changed_count(run_pki(root, etcd_pki_owner="0", etcd_pki_group="root")) == 0
    assert changed_count(run_pki(root, etcd_pki_owner=0, etcd_pki_group=0)) == 0


def test_a_certificate_near_its_end_is_issued_again_by_the_same_ca(issued_for_10_days, tmp_path):
    root = tmp_path / "pki"
    shutil.copytree(issued_for_10_days, root)
    ca, server = root / "controller" / "ca.crt", root / "m1" / "pki" / "server.crt"
    before_ca, before = serial(ca), serial(server)
    # 10 days left is within the 30-day renewal window: issued again, the CA kept.
    run_pki(root)
    assert serial(server) != before and serial(ca) == before_ca
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(server)], capture_output=True, text=True,
                            check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Now 730 days left: nothing to do.
    renewed = serial(server)
    assert changed_count(run_pki(root)) == 0 and serial(server) == renewed


def test_the_rolling_preflight_reaches_members_on_tls_by_default_and_warns_of_certificates_near_their_end(
        issued_for_10_days, tmp_path, release_mirror):
    """No TLS variable given: the pre-flight reads each member's live etcd.conf.yml (TLS) and calls it with the pki
    role's client certificate; the certificates, issued for 10 days, are named in the plan's warnings."""
    version, target = etcd_version("3.4"), etcd_version(">=3.5.26 <3.6.0")
    pki_root = issued_for_10_days
    procs, endpoints = tls_cluster(pki_root, tmp_path, version)
    try:
        wait_healthy(version, endpoints, pki_root, tmp_path)
        hosts = {name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                        "etcd_config_dir": str(tmp_path / name / "etc"), "etcd_pki_dir": str(pki_root / name / "pki"),
                        "etcd_data_dir": str(tmp_path / name / "data"),
                        "etcd_client_port": int(endpoint.rsplit(":", 1)[1])}
                 for name, endpoint in zip(MEMBERS, endpoints)}
        inventory = {"etcd": {"hosts": hosts, "vars": {
            "etcd_bin_dir": str(tmp_path / "opt"), "etcd_binaries_link_dir": str(tmp_path / "bin"),
            "etcd_binaries_host_cache": str(tmp_path / "cache"), "etcd_binaries_base_url": release_mirror,
            "etcd_binaries_release_versions": [version, target], "etcd_target_version": target}}}
        (tmp_path / "rolling.json").write_text(json.dumps(inventory))
        (tmp_path / "bin").mkdir()
        proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "--check", "-i", str(tmp_path / "rolling.json"),
                               str(ROOT / "playbooks" / "upgrade.yml")], capture_output=True, text=True, timeout=600,
                              env=dict(ENV, PATH="%s:%s" % (BIN_ROOT / version, os.environ["PATH"])), check=False)
        assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
        plan = proc.stdout.split('"hops": [', 1)[1].split("TASK [", 1)[0]
        assert '"upgrade %s"' % target in plan
        for name in MEMBERS:
            for kind in ("server", "peer", "client"):
                warning = "%s: %s expires on " % (name, pki_root / name / "pki" / (kind + ".crt"))
                assert warning in plan, plan
        assert "run the pki role (etcdops.etcd.pki) to issue it again" in plan
    finally:
        stop(procs)
