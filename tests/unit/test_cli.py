"""The command-line entry keeps the reference's environment names; flags win."""

from ansible_collections.etcdops.etcd.plugins.module_utils.cli import main, params_from, parser

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
