"""A running member's settings by etcd's rules, from what its process was given (no etcd: the rules alone;
tests/integration/test_member_settings.py reads real members)."""

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.member_process import (
    SettingsError, config_file_path, exec_path, parse_flags, systemd_properties)
from ansible_collections.etcdops.etcd.plugins.plugin_utils.member_settings import member_settings


def process(argv, environment=None, cwd="/var/lib/etcd", config_file="", config_text=""):
    return {"service": "etcd", "binary": argv[0], "argv": argv, "environment": environment or {}, "cwd": cwd,
            "config_file": config_file, "config_text": config_text}


def test_flags_take_values_after_an_equals_sign_or_in_the_next_argument_and_a_lone_flag_is_true():
    assert parse_flags(["--name", "m1", "-data-dir=/d", "--client-cert-auth", "--debug", "--snapshot-count=5"]) == {
        "name": "m1", "data-dir": "/d", "client-cert-auth": "true", "debug": "true", "snapshot-count": "5"}
    with pytest.raises(SettingsError, match="not a flag"):
        parse_flags(["m1"])


def test_flags_and_variables_add_up_with_their_sources_and_relative_paths_follow_the_working_directory():
    found = member_settings(process(
        ["/usr/bin/etcd", "--listen-client-urls", "https://0.0.0.0:2479", "--advertise-client-urls=https://m1:2479"],
        {"ETCD_NAME": "m1", "ETCD_DATA_DIR": "data", "ETCD_TRUSTED_CA_FILE": "/pki/ca.crt",
         "ETCD_CLIENT_CERT_AUTH": "true", "ETCD_CERT_FILE": "/pki/s.crt", "ETCD_KEY_FILE": "/pki/s.key",
         "ETCD_UNSUPPORTED_ARCH": "arm64"}, cwd="/srv/etcd"))
    assert found["data_dir"] == "/srv/etcd/data"
    assert found["sources"]["name"] == "environment (ETCD_NAME)" and found["sources"]["listen-client-urls"] == "flag"
    assert "unsupported-arch" not in found["settings"]
    # 0.0.0.0 is not loopback: the collection calls the advertised URL, which the certificate names.
    assert (found["endpoint"], found["client_ca_file"], found["client_cert_file"], found["client_key_file"]) == (
        "https://m1:2479", "/pki/ca.crt", "/pki/s.crt", "/pki/s.key")


def test_defaults_name_the_data_dir_after_the_member_in_the_working_directory():
    found = member_settings(process(["/usr/bin/etcd"], {"ETCD_NAME": "m2"}, cwd="/var/lib/etcd"))
    assert found["data_dir"] == "/var/lib/etcd/m2.etcd" and found["sources"]["data-dir"] == "etcd's default"
    assert (found["endpoint"], found["scheme"], found["client_cert_file"]) == ("http://localhost:2379", "http", "")


def test_a_configuration_file_replaces_flags_and_variables_and_its_tls_sections_are_flags():
    text = ("name: m3\ndata-dir: /var/lib/etcd/m3\nlisten-client-urls: https://10.0.0.3:2379,https://127.0.0.1:2379\n"
            "client-transport-security:\n  cert-file: /pki/s.crt\n  key-file: /pki/s.key\n"
            "  trusted-ca-file: /pki/ca.crt\n  client-cert-auth: false\n"
            "peer-transport-security:\n  cert-file: /pki/p.crt\nenable-v2: true\n")
    found = member_settings(process(["/usr/bin/etcd", "--config-file", "etcd.yml"], {"ETCD_NAME": "ignored"},
                                    cwd="/etc/etcd", config_file="/etc/etcd/etcd.yml", config_text=text),
                            cert_file="/pki/client.crt", key_file="/pki/client.key")
    assert found["settings"]["name"] == "m3" and found["settings"]["enable-v2"] == "true"
    assert found["settings"]["peer-cert-file"] == "/pki/p.crt" and found["peer_cert_file"] == "/pki/p.crt"
    assert found["sources"]["name"] == "configuration file /etc/etcd/etcd.yml"
    # The loopback URL it listens on; the collection's own client certificate when given.
    assert (found["endpoint"], found["client_cert_file"]) == ("https://127.0.0.1:2379", "/pki/client.crt")
    assert config_file_path(["/usr/bin/etcd"], {"ETCD_CONFIG_FILE": "c.yml"}, "/etc/etcd") == "/etc/etcd/c.yml"


def test_tls_without_a_ca_to_verify_the_member_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="etcd_client_ca_file"):
        member_settings(process(["/usr/bin/etcd", "--listen-client-urls=https://127.0.0.1:2379",
                                 "--cert-file=/s.crt", "--key-file=/s.key"]))
    with pytest.raises(SettingsError, match="not YAML"):
        member_settings(process(["/usr/bin/etcd"], config_file="/e.yml", config_text="a: [b"))


def test_systemctl_show_output_gives_the_units_program():
    shown = systemd_properties("MainPID=42\nExecStart={ path=/usr/local/bin/etcd ; argv[]=/usr/local/bin/etcd "
                               "--name=a ; ignore_errors=no ; start_time=[n/a] ; pid=0 ; code=(null) }\n")
    assert shown["MainPID"] == "42" and exec_path(shown["ExecStart"]) == "/usr/local/bin/etcd"
    assert exec_path("") == ""
