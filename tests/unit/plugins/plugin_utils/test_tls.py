"""The TLS files a member runs with: the server and rolling roles' shared rule, and the expiry warnings."""

import datetime

import pytest

from ansible_collections.etcdops.etcd.plugins.plugin_utils.tls import TLSError, certificate_warnings, tls_settings

PLAIN_CONFIG = "name: m1\nlisten-peer-urls: http://10.0.0.1:2380\n"
TLS_CONFIG = """name: m1
client-transport-security:
  cert-file: /srv/tls/server.crt
  key-file: /srv/tls/server.key
  trusted-ca-file: /srv/tls/ca.crt
  client-cert-auth: true
peer-transport-security:
  cert-file: /srv/tls/peer.crt
  key-file: /srv/tls/peer.key
  trusted-ca-file: /srv/tls/ca.crt
"""


def test_a_new_member_with_nothing_given_runs_on_the_pki_roles_files():
    settings = tls_settings({}, tls=True, pki_dir="/etc/etcd/pki")
    assert settings["cert_file"] == "/etc/etcd/pki/server.crt"
    assert settings["trusted_ca_file"] == settings["peer_trusted_ca_file"] == "/etc/etcd/pki/ca.crt"
    assert settings["peer_key_file"] == "/etc/etcd/pki/peer.key"
    assert (settings["client_cert_file"], settings["client_key_file"], settings["client_ca_file"]) == (
        "/etc/etcd/pki/client.crt", "/etc/etcd/pki/client.key", "/etc/etcd/pki/ca.crt")
    assert (settings["scheme"], settings["peer_scheme"], settings["pki"], settings["warnings"]) == (
        "https", "https", True, [])


def test_plain_http_is_explicit_and_contradicting_files_are_refused():
    settings = tls_settings({"cert_file": "", "client_cert_file": ""}, tls=False)
    assert (settings["scheme"], settings["peer_scheme"], settings["pki"]) == ("http", "http", False)
    assert all(settings[key] == "" for key in ("cert_file", "peer_cert_file", "client_cert_file", "client_ca_file"))
    with pytest.raises(TLSError, match="etcd_tls is false .* but etcd_cert_file, etcd_key_file are given"):
        tls_settings({"cert_file": "/a.crt", "key_file": "/a.key"}, tls=False)


def test_given_files_are_used_as_given_with_the_server_pair_for_the_collections_calls():
    settings = tls_settings({"cert_file": "/srv/s.crt", "key_file": "/srv/s.key", "trusted_ca_file": "/srv/ca.crt"})
    assert (settings["scheme"], settings["peer_scheme"], settings["pki"]) == ("https", "http", False)
    assert settings["peer_cert_file"] == ""
    assert (settings["client_cert_file"], settings["client_key_file"], settings["client_ca_file"]) == (
        "/srv/s.crt", "/srv/s.key", "/srv/ca.crt")
    given_client = tls_settings({"cert_file": "/srv/s.crt", "client_cert_file": "/srv/c.crt"})
    assert given_client["client_cert_file"] == "/srv/c.crt"


def test_a_member_with_data_running_plain_http_keeps_it_and_is_told_how_to_say_so():
    settings = tls_settings({}, tls=True, live_config=PLAIN_CONFIG, has_data=True)
    assert (settings["scheme"], settings["peer_scheme"], settings["pki"]) == ("http", "http", False)
    assert settings["client_cert_file"] == ""
    assert len(settings["warnings"]) == 2
    assert all("Set etcd_tls: false" in warning for warning in settings["warnings"])
    assert "no peer-transport-security" in settings["warnings"][1]
    assert tls_settings({}, tls=False, live_config=PLAIN_CONFIG, has_data=True)["warnings"] == []


def test_a_member_without_data_takes_the_settings_whatever_its_old_configuration():
    assert tls_settings({}, tls=True, live_config=PLAIN_CONFIG, has_data=False)["scheme"] == "https"


def test_a_member_running_tls_keeps_its_files_when_told_plain_http():
    settings = tls_settings({}, tls=False, live_config=TLS_CONFIG, has_data=True)
    assert (settings["cert_file"], settings["peer_key_file"]) == ("/srv/tls/server.crt", "/srv/tls/peer.key")
    assert (settings["scheme"], settings["peer_scheme"]) == ("https", "https")
    assert settings["client_cert_file"] == "/srv/tls/server.crt"
    assert len(settings["warnings"]) == 2 and "keeps it" in settings["warnings"][0]


def test_a_member_running_the_pki_roles_files_has_no_warning():
    live = TLS_CONFIG.replace("/srv/tls", "/etc/etcd/pki")
    settings = tls_settings({}, tls=True, live_config=live, has_data=True)
    assert (settings["warnings"], settings["pki"], settings["client_cert_file"]) == (
        [], True, "/etc/etcd/pki/client.crt")


NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.timezone.utc)


def test_certificates_expiring_within_the_days_are_named_with_their_date_and_the_renewal():
    certificates = {"/etc/etcd/pki/server.crt": "20261228120000Z", "/etc/etcd/pki/peer.crt": "20261230120000Z",
                    "/etc/etcd/pki/client.crt": "20261101000000Z"}
    warnings = certificate_warnings(certificates, days=30, now=NOW)
    assert len(warnings) == 2
    assert warnings[0].startswith("/etc/etcd/pki/client.crt expired on 2026-11-01 00:00 UTC: run the pki role")
    assert warnings[1].startswith("/etc/etcd/pki/server.crt expires on 2026-12-28 12:00 UTC")
    assert "restart the members one at a time" in warnings[1]
    assert certificate_warnings({"/etc/etcd/pki/peer.crt": "20261230120000Z"}, days=30, now=NOW) == []
