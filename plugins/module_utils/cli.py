# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The command-line entry of etcd_migrate, for a systemd ExecStartPre.

Environment names are those of Kubernetes' etcd ``migrate``; a flag wins
over its environment variable, and a flag or variable set but empty counts as unset.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import shlex
import sys

from .engine import migrate
from .options import DEFAULTS, OPTIONS, flag
from .versions import SEMVER_IMPORT_ERROR, MigrationError

# The options with a flag of their own (--<name>), from the one option spec; the others are below.
PLAIN = [option for option in OPTIONS if option.cli]
# The reference's default ports; an events data dir (path containing "event") gets its own pair,
# so that the two migrations of a control-plane host can run at once.
CLIENT_PORTS = (DEFAULTS["client_port"], 18631)
PEER_PORTS = (18630, 18632)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _env(environ, name):
    return environ.get(name) or None


def default_name(environ):
    """ETCD_NAME, else etcd-$ETCD_HOSTNAME, else etcd-$HOSTNAME, as the reference names the member."""
    if _env(environ, "ETCD_NAME"):
        return environ["ETCD_NAME"]
    for variable in ("ETCD_HOSTNAME", "HOSTNAME"):
        if _env(environ, variable):
            return "etcd-%s" % environ[variable]
    return None


def parser(environ):
    p = argparse.ArgumentParser(prog="etcd-migrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in PLAIN:
        if option.env:
            p.add_argument(flag(option), default=_env(environ, option.env), help="(env %s)" % option.env)
        else:
            p.add_argument(flag(option), type=int if option.type == "int" else None, default=option.default)
    p.add_argument("--name", default=default_name(environ),
                   help="(env ETCD_NAME, else etcd-$ETCD_HOSTNAME, else etcd-$HOSTNAME)")
    p.add_argument("--etcd-server-extra-args", "--etcd-creds", dest="etcd_creds", default=_env(environ, "ETCD_CREDS"),
                   help="extra flags for every temporary etcd, e.g. peer TLS (env ETCD_CREDS)")
    p.add_argument("--listen-client-urls", default=_env(environ, "LISTEN_CLIENT_URLS"),
                   help="accepted and ignored: the temporary etcd listens on 127.0.0.1 only (env LISTEN_CLIENT_URLS)")
    p.add_argument("--etcd-data-prefix", default=_env(environ, "ETCD_DATA_PREFIX") or "/registry",
                   help="the TTL-keys directory defaults to <prefix>/events (env ETCD_DATA_PREFIX)")
    p.add_argument("--ttl-keys-directory",
                   help="keys under this prefix get a lease when etcd2 data is converted")
    p.add_argument("--defer-final-hop", default=_env(environ, "DEFER_FINAL_HOP"), nargs="?", const="true",
                   help="record the last minor's target only; the real start does that hop (env DEFER_FINAL_HOP)")
    p.add_argument("--client-port", "--port", type=int)
    p.add_argument("--peer-port", type=int,
                   help="the temporary etcd's peer port when no peer URLs are given (default 18630, 18632 for event "
                        "dirs)")
    p.add_argument("--bundled-versions",
                   help="accepted and ignored: the versions are those installed under --bin-dir")
    p.add_argument("--no-backup", action="store_true")
    p.add_argument("--check", action="store_true", help="print the plan and change nothing")
    return p


def _flag(text, what):
    if text is None or text.lower() in FALSE:
        return False
    if text.lower() in TRUE:
        return True
    raise MigrationError("%s=%r is not a boolean: give true or false" % (what, text))


def _extra_args(text):
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        raise MigrationError("ETCD_CREDS (--etcd-creds) cannot be split into flags (%s): quote each value once, "
                             "e.g. --peer-key-file='/pki/my key.pem'" % exc)


def params_from(args):
    """The engine's parameters; MigrationError on input that cannot be read."""
    params = {option.name: getattr(args, option.name) for option in PLAIN}
    events = "event" in (args.data_dir or "")
    params.update(
        name=args.name, server_extra_args=_extra_args(args.etcd_creds),
        client_port=args.client_port or CLIENT_PORTS[events],
        listen_peer_urls=params["listen_peer_urls"] or "http://127.0.0.1:%d" % (args.peer_port or PEER_PORTS[events]),
        backup=not args.no_backup,
        defer_final_hop=_flag(args.defer_final_hop, "DEFER_FINAL_HOP (--defer-final-hop)"),
        ttl_keys_prefix=args.ttl_keys_directory or args.etcd_data_prefix.rstrip("/") + "/events")
    return params


def parse(p, argv):
    """The arguments, where a flag given empty (a wrapper's --flag "$UNSET") counts as unset, as in Kubernetes'
    migrate: its variable, else its default, applies (an empty --ttl-keys-directory is <prefix>/events)."""
    args = p.parse_args(argv)
    unset = p.parse_args([])
    for key, value in vars(args).items():
        if value == "":
            setattr(args, key, getattr(unset, key))
    return args


def main(argv=None, environ=None):
    environ = os.environ if environ is None else environ
    p = parser(environ)
    args = parse(p, argv)
    for option in PLAIN:
        if option.required and not getattr(args, option.name):
            p.error("%s (or the environment variable %s) is required" % (flag(option), option.env))
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
