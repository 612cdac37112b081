"""Test helpers: real etcd binaries by requirement, real members, real data dirs."""

import base64
import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest
import semver

# tools/ and the collection path are on sys.path through pytest.ini's pythonpath.
import etcd_binaries  # noqa: F401  (tests use it through helpers)
import etcd_sample
from etcd_sample import free_port, read_state, write_sample_data

ROOT = Path(__file__).resolve().parents[2]

BIN_ROOT = etcd_binaries.cache_root()
IN_CI = os.environ.get("CI") == "true"


def cached_versions():
    return sorted(semver.Version.parse(v) for v in etcd_binaries.load_manifest(BIN_ROOT)["versions"])


def etcd_version(spec):
    """The cached version a test needs, by requirement.

    ``"3.4.23"`` is exact, ``"3.6"`` the newest 3.6, ``">=3.5.26 <3.6.0"`` the
    newest matching every comparison.  Missing: a failure in CI, a loud skip
    elsewhere (run ``make etcd-binaries``).
    """
    parts = spec.split()
    if len(parts) == 1 and not parts[0][0] in "<>=!":
        pieces = parts[0].split(".")
        if len(pieces) == 3:
            parts = ["==" + parts[0]]
        else:
            parts = [">=%s.0" % parts[0], "<%s.%d.0" % (pieces[0], int(pieces[1]) + 1)]
    found = [v for v in cached_versions() if all(v.match(p) for p in parts)]
    if found:
        return str(max(found))
    message = "no cached etcd binary matches %r in %s: run `make etcd-binaries`" % (spec, BIN_ROOT)
    if IN_CI:
        pytest.fail(message)
    pytest.skip("SKIPPED LOUDLY: " + message)


@contextlib.contextmanager
def running_etcd(version, data_dir, log_dir, **settings):
    with etcd_sample.running_etcd(BIN_ROOT, version, data_dir, log_dir, **settings) as member:
        yield member


def build_data_dir(version, data_dir, log_dir, keys=20, record_version=True):
    """A data dir written by real etcd ``version`` with sample data; returns (marks, state)."""
    with running_etcd(version, data_dir, log_dir) as member:
        marks = write_sample_data(member, keys)
        state = read_state(member, marks)
        if semver.Version.parse(version).match(">=3.6.0"):
            wait_for_storage_version(member)
    if record_version:
        (Path(data_dir) / "version.txt").write_text("%s/etcd3" % version)
    return marks, state


def wait_for_storage_version(member, timeout=60):
    """3.6+ writes its storage version into the db on its own schedule after the cluster version is set: a data dir
    stopped before that lacks the mark detection reads (seen on a busy machine). Wait until the member reports it."""
    deadline = time.monotonic() + timeout
    while not member.status().get("storageVersion"):
        assert time.monotonic() < deadline, "etcd %s reported no storage version within %ss" % (member, timeout)
        time.sleep(0.1)


def state_on(version, data_dir, log_dir, marks):
    with running_etcd(version, data_dir, log_dir) as member:
        info = member.version_info()
        return read_state(member, marks), info, member.status()["header"]


def copy_tree(src, dst):
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def params(data_dir, target, **extra):
    base = {"data_dir": str(data_dir), "target_version": target, "bin_dir": str(BIN_ROOT),
            "client_port": free_port(), "listen_peer_urls": "http://127.0.0.1:%d" % free_port()}
    base.update(extra)
    return base


def tree_digest(path):
    """Every file's path, mode and content under ``path``: equal digests mean nothing changed."""
    digest = hashlib.sha256()
    for directory, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(directory, name)
            info = os.lstat(full)
            digest.update(("%s %o\n" % (os.path.relpath(full, path), info.st_mode)).encode())
            if stat.S_ISLNK(info.st_mode):
                digest.update(os.readlink(full).encode())
            elif stat.S_ISREG(info.st_mode):
                digest.update(Path(full).read_bytes())
    digest.update(("%o" % os.stat(path).st_mode).encode())
    return digest.hexdigest()


def broken_bin_dir(tmp_path, broken_version, versions):
    """The cache's binaries with ``broken_version``'s etcd replaced by one that crashes at start."""
    bin_dir = Path(tmp_path) / "bin"
    for version in versions:
        shutil.copytree(BIN_ROOT / version, bin_dir / version)
    bad = bin_dir / broken_version / "etcd"
    bad.unlink()
    bad.write_text("#!/bin/sh\necho 'simulated crash' >&2\nexit 3\n")
    bad.chmod(0o755)
    return bin_dir


@contextlib.contextmanager
def tmpfs(path, size):
    """A small filesystem of its own (a full disk on demand), unmounted afterwards."""
    Path(path).mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(path)], check=True)
    try:
        yield Path(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def v3_keys(member):
    """Every key through the v3 gateway: {key: (value, lease or None)}."""
    kvs = member.v3("/kv/range", {"key": "AA==", "range_end": "AA=="}).get("kvs") or []
    return {base64.b64decode(kv["key"]).decode(): (base64.b64decode(kv.get("value", "")).decode(), kv.get("lease"))
            for kv in kvs}


def assert_converted_from_etcd2(member, plain, ttl_keys, ttl=3600):
    """etcd2 -> etcd3: every key served over v3, the TTL keys on one lease of ``ttl`` seconds, the rest on none."""
    got = v3_keys(member)
    assert {k: v for k, (v, _lease) in got.items()} == dict(plain, **ttl_keys)
    assert all(not got[k][1] for k in plain)
    leases = {got[k][1] for k in ttl_keys}
    assert len(leases) == 1 and None not in leases
    lease = member.v3("/kv/lease/timetolive", {"ID": leases.pop()})
    assert int(lease["grantedTTL"]) == ttl and 0 < int(lease["TTL"]) <= ttl


def v2_keys(member):
    """Every key of the v2 store: {key: (value, ttl or None)}."""
    def flatten(node, out):
        for child in node.get("nodes") or []:
            if child.get("dir"):
                flatten(child, out)
            else:
                out[child["key"]] = (child["value"], child.get("ttl"))
        return out
    return flatten(member.v2("GET", "/", query={"recursive": "true"}).get("node", {}), {})


def issue_certificates(out, name, dns_names=(), ip_addresses=()):
    """A test CA (``ca.crt``, ``ca.key``) and a certificate it signs for ``dns_names`` and ``ip_addresses`` only,
    good for serving and as a client (``NAME.crt``, ``NAME.key``), in ``out``; valid from yesterday to tomorrow."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd test CA")])

    def signed(subject, public_key, *extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1)))
        for extension in extensions:
            builder = builder.add_extension(extension, critical=isinstance(extension, x509.BasicConstraints))
        return builder.sign(ca_key, hashes.SHA256())

    names = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    for file_name, certificate, private_key in (
            ("ca", signed(ca_name, ca_key.public_key(), x509.BasicConstraints(ca=True, path_length=None)), ca_key),
            (name, signed(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key(),
                          x509.SubjectAlternativeName(names),
                          x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])),
             key)):
        (Path(out) / (file_name + ".crt")).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        (Path(out) / (file_name + ".key")).write_bytes(private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
