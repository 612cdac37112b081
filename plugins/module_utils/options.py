# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""etcd_migrate's options, specified once.

The module's argument_spec, the engine's defaults, the temporary member's
defaults and the command line's flags and environment names all derive from
``OPTIONS``; the engine checks the values once into ``MigrateOptions``, the
typed object the steps read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from dataclasses import dataclass
from typing import Any, Optional, Tuple

# ``cli``: the command line has ``--<name>``; ``env``: the Kubernetes ``migrate`` environment variable it reads.
Option = namedtuple("Option", "name type default required choices elements no_log cli env",
                    defaults=(None, False, None, None, None, False, None))

OPTIONS = (
    Option("target_version", "str", required=True, cli=True, env="TARGET_VERSION"),
    Option("data_dir", "path", required=True, cli=True, env="DATA_DIRECTORY"),
    Option("wal_dir", "path", cli=True, env="WAL_DIRECTORY"),
    Option("target_storage", "str", "etcd3", choices=["etcd2", "etcd3"], cli=True, env="TARGET_STORAGE"),
    Option("bin_dir", "path", cli=True, env="ETCD_BIN_DIR"),
    Option("name", "str"),
    Option("initial_cluster", "str", cli=True, env="INITIAL_CLUSTER"),
    Option("listen_peer_urls", "str", "http://127.0.0.1:18630", cli=True, env="LISTEN_PEER_URLS"),
    Option("initial_advertise_peer_urls", "str", cli=True, env="INITIAL_ADVERTISE_PEER_URLS"),
    Option("initial_cluster_token", "str", "etcd-cluster", no_log=False, cli=True),
    Option("client_port", "int", 18629),
    Option("server_extra_args", "list", [], elements="str"),
    Option("current_version", "str", cli=True),
    Option("backup", "bool", True),
    Option("backup_dir", "path", cli=True),
    Option("backups_to_keep", "int", 3, cli=True),
    Option("defer_final_hop", "bool", False),
    Option("timeout", "int", 120, cli=True),
    Option("data_dir_mode", "str", "0700", cli=True),
    Option("ttl_keys_prefix", "str", "/registry/events", no_log=False),
    Option("ttl_keys_ttl", "int", 3600, no_log=False, cli=True),
)

DEFAULTS = dict((option.name, option.default) for option in OPTIONS if not option.required)


def argument_spec():
    """The module's argument_spec."""
    spec = {}
    for option in OPTIONS:
        entry = dict(type=option.type)
        for key in ("default", "choices", "elements", "no_log"):
            value = getattr(option, key)
            if value is not None:
                entry[key] = list(value) if isinstance(value, list) else value
        if option.required:
            entry["required"] = True
        spec[option.name] = entry
    return spec


def flag(option):
    return "--" + option.name.replace("_", "-")


def flag_names(args):
    """The names of the flags among etcd command line ``args`` (``--name=value``, ``-name value``...)."""
    return [str(arg).lstrip("-").split("=", 1)[0] for arg in args if str(arg).startswith("-")]


@dataclass(frozen=True)
class MigrateOptions:
    """Every option, checked and typed by engine.validate from ``DEFAULTS`` and the caller's values:
    versions are semver versions, ports and counts ints, the data dir mode an int."""

    data_dir: str
    wal_dir: Optional[str]
    target_version: Any
    target_storage: str
    bin_dir: Optional[str]
    name: Optional[str]
    initial_cluster: Optional[str]
    listen_peer_urls: str
    initial_advertise_peer_urls: Optional[str]
    initial_cluster_token: str
    client_port: int
    server_extra_args: Tuple[str, ...]
    current_version: Any
    backup: bool
    backup_dir: Optional[str]
    backups_to_keep: int
    defer_final_hop: bool
    timeout: int
    data_dir_mode: int
    ttl_keys_prefix: str
    ttl_keys_ttl: int
