"""What the engine's etcd, etcdctl and etcdutl get of the caller's environment: nothing ETCD_*/ETCDCTL_*."""

import semver

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import clean_environment, server_environment


def test_etcd_and_etcdctl_variables_are_dropped_and_the_rest_kept(monkeypatch):
    monkeypatch.setenv("ETCD_NAME", "x")
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", "http://192.0.2.1:2379")
    monkeypatch.setenv("ETCD_UNSUPPORTED_ARCH", "arm64")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = clean_environment(ETCDCTL_API="3")
    assert {k for k in env if k.startswith(("ETCD_", "ETCDCTL_"))} == {"ETCDCTL_API"}
    assert env["ETCDCTL_API"] == "3" and env["LANG"] == "C.UTF-8"


def test_only_etcd_before_35_on_arm64_gets_the_arch_override(monkeypatch):
    monkeypatch.setenv("ETCD_UNSUPPORTED_ARCH", "s390x")
    v = semver.Version.parse
    assert server_environment(v("3.4.23"), "aarch64")["ETCD_UNSUPPORTED_ARCH"] == "arm64"
    assert "ETCD_UNSUPPORTED_ARCH" not in server_environment(v("3.5.35"), "aarch64")
    assert "ETCD_UNSUPPORTED_ARCH" not in server_environment(v("3.4.23"), "x86_64")
