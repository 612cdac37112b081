"""A running member's settings by etcd's rules, from what its process was given (no etcd: the rules alone;
tests/integration/test_member_settings.py reads real members)."""

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.member_process import (
    SettingsError, config_file_path, environment_file, exec_path, parse_flags, systemd_properties, unit_environment)
from ansible_collections.etcdops.etcd.plugins.plugin_utils.member_settings import member_settings


def process(argv, environment=None, cwd="/var/lib/etcd", config_file="", config_text=""):
    return {"service": "etcd", "binary": argv[0], "argv": argv, "environment": environment or {}, "cwd": cwd,
            "config_file": config_file, "config_text": config_text}


def test_flags_take_values_as_gos_flag_package_reads_them():
    assert parse_flags(["--name", "m1", "-data-dir=/d", "--client-cert-auth", "--debug", "--snapshot-count=5",
                        "--wal-dir", "", "--log-level", "-x"]) == {
        "name": "m1", "data-dir": "/d", "client-cert-auth": "true", "debug": "true", "snapshot-count": "5",
        "wal-dir": "", "log-level": "-x"}
    # A boolean flag never takes the next argument: etcd refuses a stray one.
    with pytest.raises(SettingsError, match="not a flag"):
        parse_flags(["--strict-reconfig-check", "false"])
    with pytest.raises(SettingsError, match="has no value"):
        parse_flags(["--name"])


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


def test_systemctl_show_output_gives_the_units_program_and_environment():
    shown = systemd_properties("MainPID=42\nExecStart={ path=/usr/local/bin/etcd ; argv[]=/usr/local/bin/etcd "
                               "--name=a ; ignore_errors=no ; start_time=[n/a] ; pid=0 ; code=(null) }\n"
                               "Environment=ETCD_NAME=a \"ETCD_INITIAL_CLUSTER_STATE=new\" OTHER=x\n"
                               "EnvironmentFiles=/etc/default/etcd (ignore_errors=no)\n"
                               "EnvironmentFiles=/etc/etcdops/etcd-hop.env (ignore_errors=yes)\n")
    assert shown["MainPID"] == ["42"] and exec_path(shown["ExecStart"][0]) == "/usr/local/bin/etcd"
    assert exec_path("") == ""
    files = {"/etc/default/etcd": "# set by hand\nETCD_NAME='b'\nETCD_DATA_DIR = \"/var/lib/etcd b\"\n\n"}

    def read(path):
        if path not in files:
            raise IOError("no such file: %s" % path)
        return files[path]

    # The optional hop environment may be missing, the unit's own file may not.
    assert unit_environment(shown, read)["ETCD_NAME"] == "b"
    with pytest.raises(SettingsError, match="/etc/default/etcd cannot be read"):
        unit_environment(shown, lambda path: read("/missing"))
    files["/etc/etcdops/etcd-hop.env"] = "ETCD_SNAPSHOT_COUNT=1\n"
    # Files override Environment=, later files earlier ones; only etcd's variables.
    assert unit_environment(shown, read) == {"ETCD_NAME": "b", "ETCD_DATA_DIR": "/var/lib/etcd b",
                                             "ETCD_INITIAL_CLUSTER_STATE": "new", "ETCD_SNAPSHOT_COUNT": "1"}
    assert environment_file("A=1\n;c\nB=\"x y\"\n") == {"A": "1", "B": "x y"}


def test_go_booleans_unix_sockets_and_a_setting_given_twice():
    found = member_settings(process(
        ["/usr/bin/etcd", "--listen-client-urls=unix://localhost:2379,https://10.0.0.1:2379",
         "--advertise-client-urls=https://10.0.0.1:2379", "--name", "m"],
        {"ETCD_CLIENT_CERT_AUTH": "True", "ETCD_TRUSTED_CA_FILE": "/ca", "ETCD_CERT_FILE": "/c", "ETCD_KEY_FILE": "/k",
         "ETCD_NAME": "m"}))
    assert found["settings"]["client-cert-auth"] == "true" and found["client_cert_file"] == "/c"
    assert found["endpoint"] == "https://10.0.0.1:2379"
    assert found["sources"]["name"] == "flag and environment (ETCD_NAME)"
    # 3.3 reads a configuration file from the flag only.
    assert config_file_path(["/usr/bin/etcd"], {"ETCD_CONFIG_FILE": "c.yml"}, "/etc", (3, 3)) == ""


def test_over_tls_the_calls_go_to_a_url_the_members_certificate_is_valid_for():
    argv = ["/usr/bin/etcd", "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.4:2379",
            "--advertise-client-urls=https://m4.example.com:2379", "--trusted-ca-file=/pki/ca.crt",
            "--cert-file=/pki/s.crt", "--key-file=/pki/s.key"]
    # Issued for the host's name only (a loopback URL would fail the certificate check): the advertised URL.
    assert member_settings(process(argv), certificate_names=["DNS:m4.example.com", "IP:10.0.0.4"])["endpoint"] == \
        "https://m4.example.com:2379"
    # A wildcard stands for one first label; an address is named by an IP name only, ::1 as written any way.
    assert member_settings(process(argv), certificate_names=["DNS:*.example.com"])["endpoint"] == \
        "https://m4.example.com:2379"
    assert member_settings(process(argv), certificate_names=["IP:0:0:0:0:0:0:0:1", "IP:127.0.0.1"])["endpoint"] == \
        "https://127.0.0.1:2379"
    assert member_settings(process(argv))["endpoint"] == "https://127.0.0.1:2379"
    for names in (["DNS:127.0.0.1", "DNS:*.com"], ["DNS:*.m4.example.com", "IP:10.0.0.5"]):
        with pytest.raises(SettingsError, match=r"its certificate /pki/s.crt is valid for .* none of the hosts of "
                                                r"https://127.0.0.1:2379, https://m4.example.com:2379.*127.0.0.1"):
            member_settings(process(argv), certificate_names=names)


def test_a_loopback_url_without_tls_needs_no_certificate_name():
    argv = ["/usr/bin/etcd", "--listen-client-urls=http://127.0.0.1:2379,https://10.0.0.4:2379",
            "--advertise-client-urls=https://m4:2379", "--trusted-ca-file=/pki/ca.crt"]
    found = member_settings(process(argv), certificate_names=["DNS:m4"])
    assert (found["endpoint"], found["client_ca_file"]) == ("http://127.0.0.1:2379", "")


def test_a_trusted_ca_alone_has_the_calls_present_the_members_own_pair():
    # etcd 3.4+ asks every client for a certificate once it has a trusted CA, client-cert-auth or not.
    found = member_settings(process(["/usr/bin/etcd", "--listen-client-urls=https://127.0.0.1:2379",
                                     "--trusted-ca-file=/pki/ca.crt", "--cert-file=/pki/s.crt", "--key-file=/pki/s.key"]))
    assert (found["client_cert_file"], found["client_key_file"]) == ("/pki/s.crt", "/pki/s.key")
