"""The command-line entry keeps the reference's environment names; flags win."""

import os

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.cli import main, params_from, parse, parser

ENV = {
    "TARGET_VERSION": "3.5.35", "TARGET_STORAGE": "etcd3", "DATA_DIRECTORY": "/var/etcd/data",
    "ETCD_NAME": "etcd-a", "INITIAL_CLUSTER": "etcd-a=https://192.0.2.10:2380",
    "LISTEN_PEER_URLS": "http://127.0.0.1:2380", "INITIAL_ADVERTISE_PEER_URLS": "https://192.0.2.10:2380",
    "ETCD_CREDS": "--cert-file=/pki/etcd.crt --key-file '/pki/my key.pem'",
}


def test_environment_names_of_the_reference_are_read():
    params = params_from(parser(ENV).parse_args([]))
    assert params["target_version"] == "3.5.35" and params["data_dir"] == "/var/etcd/data"
    assert params["name"] == "etcd-a" and params["initial_cluster"] == "etcd-a=https://192.0.2.10:2380"
    assert params["listen_peer_urls"] == "http://127.0.0.1:2380"
    assert params["initial_advertise_peer_urls"] == "https://192.0.2.10:2380"
    assert params["server_extra_args"] == ["--cert-file=/pki/etcd.crt", "--key-file", "/pki/my key.pem"]


def test_flags_win_over_environment():
    params = params_from(parser(ENV).parse_args(["--target-version", "3.6.16", "--name", "other"]))
    assert params["target_version"] == "3.6.16" and params["name"] == "other"


def test_a_missing_target_is_a_usage_error(capsys):
    try:
        main(["--data-dir", "/x"], environ={})
    except SystemExit as exc:
        assert exc.code == 2
    assert "TARGET_VERSION" in capsys.readouterr().err


def test_errors_exit_1_with_the_message(tmp_path, capsys):
    (tmp_path / "member" / "snap").mkdir(parents=True)
    (tmp_path / "member" / "snap" / "db").write_bytes(b"not bbolt")
    (tmp_path / "member" / "wal").mkdir()
    (tmp_path / "member" / "wal" / "0000000000000000-0000000000000000.wal").write_bytes(b"")
    assert main(["--data-dir", str(tmp_path), "--target-version", "3.5.1"], environ={}) == 1
    assert "give current_version" in capsys.readouterr().err


def params_of(environ, argv=()):
    return params_from(parse(parser(environ), list(argv)))


def test_the_name_falls_back_to_etcd_hostname_then_hostname():
    assert params_of({"ETCD_NAME": "a", "ETCD_HOSTNAME": "b", "HOSTNAME": "c"})["name"] == "a"
    assert params_of({"ETCD_NAME": "", "ETCD_HOSTNAME": "b", "HOSTNAME": "c"})["name"] == "etcd-b"
    assert params_of({"HOSTNAME": "c"})["name"] == "etcd-c"
    assert params_of({})["name"] is None  # the engine then keeps the name the data dir records


def test_the_ttl_keys_directory_follows_the_data_prefix():
    assert params_of({})["ttl_keys_prefix"] == "/registry/events"
    assert params_of({"ETCD_DATA_PREFIX": "/k8s/"})["ttl_keys_prefix"] == "/k8s/events"
    # Given empty, as Kubernetes' migrate reads it: the default, not "lease nothing".
    assert params_of({"ETCD_DATA_PREFIX": "/k8s"}, ["--ttl-keys-directory", ""])["ttl_keys_prefix"] == "/k8s/events"
    assert params_of({}, ["--ttl-keys-directory", "/custom"])["ttl_keys_prefix"] == "/custom"


def test_defer_final_hop_reads_its_variable_and_flag():
    assert params_of({})["defer_final_hop"] is False
    assert params_of({"DEFER_FINAL_HOP": "true"})["defer_final_hop"] is True
    assert params_of({"DEFER_FINAL_HOP": "0"})["defer_final_hop"] is False
    assert params_of({"DEFER_FINAL_HOP": "false"}, ["--defer-final-hop"])["defer_final_hop"] is True


def test_manifest_variables_the_engine_has_no_use_for_change_nothing():
    plain = params_of({"DATA_DIRECTORY": "/var/etcd/data"})
    noisy = params_of({"DATA_DIRECTORY": "/var/etcd/data", "ETCD_SNAPSHOT_COUNT": "10000", "ETCDCTL_API": "3",
                       "LISTEN_CLIENT_URLS": "http://0.0.0.0:2379", "DO_NOT_MOVE_BINARIES": "true",
                       "ETCD_APISERVER_CREDS": "--cert-file=/x", "ETCD_LISTEN_METRICS_URLS": "http://0.0.0.0:2381"})
    assert noisy == plain


def test_an_events_data_dir_gets_the_reference_event_ports():
    main_dir, events = params_of({"DATA_DIRECTORY": "/var/etcd/data"}), params_of({"DATA_DIRECTORY": "/var/etcd/data-events"})
    assert (main_dir["client_port"], main_dir["listen_peer_urls"]) == (18629, "http://127.0.0.1:18630")
    assert (events["client_port"], events["listen_peer_urls"]) == (18631, "http://127.0.0.1:18632")


@pytest.mark.parametrize("variable,value,message", [
    ("ETCD_CREDS", "--peer-key-file='/pki/my key.pem", "ETCD_CREDS (--etcd-creds) cannot be split into flags"),
    ("DEFER_FINAL_HOP", "maybe", "DEFER_FINAL_HOP (--defer-final-hop)='maybe' is not a boolean"),
])
def test_unreadable_variables_are_a_one_line_error_and_leave_the_data_alone(tmp_path, capsys, variable, value, message):
    (tmp_path / "version.txt").write_text("3.4.23/etcd3")
    environ = {"TARGET_VERSION": "3.5.1", "DATA_DIRECTORY": str(tmp_path), variable: value}
    assert main([], environ=environ) == 1
    err = capsys.readouterr().err
    assert err.startswith("etcd-migrate: error: " + message) and err.count("\n") == 1
    assert os.listdir(tmp_path) == ["version.txt"] and (tmp_path / "version.txt").read_text() == "3.4.23/etcd3"
