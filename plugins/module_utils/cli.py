# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The command-line entry of etcd_migrate, for a systemd ExecStartPre.

Environment names are those of Kubernetes' etcd ``migrate``; a flag wins
over its environment variable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import shlex
import sys

from .engine import DEFAULTS, migrate
from .versions import SEMVER_IMPORT_ERROR, MigrationError

# flag -> (environment variable, engine parameter)
ENVIRONMENT = [
    ("--target-version", "TARGET_VERSION", "target_version"),
    ("--target-storage", "TARGET_STORAGE", "target_storage"),
    ("--data-dir", "DATA_DIRECTORY", "data_dir"),
    ("--wal-dir", "WAL_DIRECTORY", "wal_dir"),
    ("--name", "ETCD_NAME", "name"),
    ("--initial-cluster", "INITIAL_CLUSTER", "initial_cluster"),
    ("--listen-peer-urls", "LISTEN_PEER_URLS", "listen_peer_urls"),
    ("--initial-advertise-peer-urls", "INITIAL_ADVERTISE_PEER_URLS", "initial_advertise_peer_urls"),
    ("--etcd-creds", "ETCD_CREDS", "server_extra_args"),
    ("--bin-dir", "ETCD_BIN_DIR", "bin_dir"),
]


def parser(environ):
    p = argparse.ArgumentParser(prog="etcd-migrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, env, _param in ENVIRONMENT:
        p.add_argument(flag, default=environ.get(env), help="(env %s)" % env)
    p.add_argument("--client-port", type=int, default=DEFAULTS["client_port"])
    p.add_argument("--initial-cluster-token", default=DEFAULTS["initial_cluster_token"])
    p.add_argument("--current-version")
    p.add_argument("--backup-dir")
    p.add_argument("--no-backup", action="store_true")
    p.add_argument("--backups-to-keep", type=int, default=DEFAULTS["backups_to_keep"])
    p.add_argument("--defer-final-hop", action="store_true")
    p.add_argument("--timeout", type=int, default=DEFAULTS["timeout"])
    p.add_argument("--data-dir-mode", default=DEFAULTS["data_dir_mode"])
    p.add_argument("--ttl-keys-directory", default=DEFAULTS["ttl_keys_prefix"],
                   help="keys under this prefix get a lease when etcd2 data is converted")
    p.add_argument("--ttl-keys-ttl", type=int, default=DEFAULTS["ttl_keys_ttl"])
    p.add_argument("--check", action="store_true", help="print the plan and change nothing")
    return p


def params_from(args):
    params = {param: getattr(args, flag[2:].replace("-", "_")) for flag, _env, param in ENVIRONMENT}
    params["server_extra_args"] = shlex.split(params["server_extra_args"] or "")
    params.update(client_port=args.client_port, initial_cluster_token=args.initial_cluster_token,
                  current_version=args.current_version, backup=not args.no_backup, backup_dir=args.backup_dir,
                  backups_to_keep=args.backups_to_keep, defer_final_hop=args.defer_final_hop,
                  timeout=args.timeout, data_dir_mode=args.data_dir_mode,
                  ttl_keys_prefix=args.ttl_keys_directory, ttl_keys_ttl=args.ttl_keys_ttl)
    return params


def main(argv=None, environ=None):
    environ = os.environ if environ is None else environ
    p = parser(environ)
    args = p.parse_args(argv)
    for flag, env in (("--target-version", "TARGET_VERSION"), ("--data-dir", "DATA_DIRECTORY")):
        if not getattr(args, flag[2:].replace("-", "_")):
            p.error("%s (or the environment variable %s) is required" % (flag, env))
    if SEMVER_IMPORT_ERROR:
        sys.stderr.write("etcd-migrate: the Python library semver is missing: pip install semver\n")
        return 2
    try:
        result = migrate(params_from(args), check_mode=args.check,
                         log=lambda message: sys.stderr.write("etcd-migrate: %s\n" % message))
    except MigrationError as exc:
        sys.stderr.write("etcd-migrate: error: %s\n" % exc)
        return 1
    for warning in result["warnings"]:
        sys.stderr.write("etcd-migrate: warning: %s\n" % warning)
    sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0
