# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The TLS files a member runs with and the collection's calls use: the one rule the server and rolling roles share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import posixpath

import yaml

# The server role's variables (without etcd_) for the member's own TLS, and the pki role's file for each.
PKI_FILES = {"cert_file": "server.crt", "key_file": "server.key", "trusted_ca_file": "ca.crt",
             "peer_cert_file": "peer.crt", "peer_key_file": "peer.key", "peer_trusted_ca_file": "ca.crt"}
# The collection's own calls: the pki role's client certificate.
PKI_CLIENT_FILES = {"client_cert_file": "client.crt", "client_key_file": "client.key", "client_ca_file": "ca.crt"}
# Each side of the member: its variables' prefix and its section of etcd's configuration file.
SIDES = (("client", "", "client-transport-security"), ("peer", "peer_", "peer-transport-security"))
ASN1_TIME = "%Y%m%d%H%M%SZ"


class TLSError(ValueError):
    """Contradicting TLS settings."""


def _live_side(config, prefix, section):
    """A side's files in a parsed etcd configuration, '' for each where it runs plain HTTP."""
    settings = config.get(section) or {}
    return {prefix + key: str(settings.get(key.replace("_", "-")) or "")
            for key in ("cert_file", "key_file", "trusted_ca_file")}


def tls_settings(given, tls=True, pki_dir="/etc/etcd/pki", live_config="", has_data=False):
    """The member's TLS files, schemes and whether they are the pki role's, with warnings.

    ``given`` maps the server role's TLS variables (without ``etcd_``) to their values, "" when not given.
    ``tls`` true with none of the member's files given: the pki role's files in ``pki_dir``, client certificate
    included; any given: those (a side without its certificate runs plain HTTP), the collection's calls with the
    server pair unless ``client_*`` are given. ``tls`` false: plain HTTP. A member with data (``has_data``) keeps
    the scheme of each side its live configuration (``live_config``, the text of etcd.conf.yml) runs: a running
    cluster records its peer URLs, and changing their scheme needs every member updated."""
    own = {key: str(given.get(key) or "") for key in PKI_FILES}
    named = sorted("etcd_" + key for key, value in own.items() if value)
    if not tls and named:
        raise TLSError("etcd_tls is false (plain HTTP) but %s %s given: remove them, or set etcd_tls to true"
                       % (", ".join(named), "is" if len(named) == 1 else "are"))
    from_pki = bool(tls) and not named
    pki = {key: posixpath.join(pki_dir, name) for key, name in dict(PKI_FILES, **PKI_CLIENT_FILES).items()}
    files = {key: pki[key] for key in PKI_FILES} if from_pki else own
    warnings = []
    live = (yaml.safe_load(live_config) or {}) if has_data and live_config else None
    for side, prefix, section in SIDES if live is not None else ():
        running = _live_side(live, prefix, section)
        if bool(running[prefix + "cert_file"]) == bool(files[prefix + "cert_file"]):
            continue
        files.update(running)
        if running[prefix + "cert_file"]:
            warnings.append("this member runs %s TLS (%s in its etcd.conf.yml) and keeps it, with the files it has: "
                            "a running cluster does not change its scheme here. Give those files "
                            "(etcd_%scert_file, ...) to say so." % (side, section, prefix))
        else:
            warnings.append("this member runs plain HTTP for %s traffic (no %s in its etcd.conf.yml) and keeps it: "
                            "a running cluster records its peer URLs, and moving it to https needs each member's "
                            "URLs updated, which this collection does not do. Set etcd_tls: false for this cluster "
                            "to say plain HTTP explicitly." % (side, section))
    client_default = (pki if from_pki and files["cert_file"] == pki["cert_file"] else
                      {"client_cert_file": files["cert_file"], "client_key_file": files["key_file"],
                       "client_ca_file": files["trusted_ca_file"]})
    for key in PKI_CLIENT_FILES:
        files[key] = str(given.get(key) or "") or client_default[key] if files["cert_file"] else ""
    files.update(scheme="https" if files["cert_file"] else "http",
                 peer_scheme="https" if files["peer_cert_file"] else "http",
                 pki=any(files[key] == pki[key] for key in PKI_FILES), pki_dir=pki_dir, warnings=warnings)
    return files


def certificate_warnings(certificates, days=30, now=None):
    """A warning for each certificate (path: not_after, ASN.1 time) that expires within ``days``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    warnings = []
    for path, expiry in sorted(certificates.items()):
        not_after = datetime.datetime.strptime(expiry, ASN1_TIME).replace(tzinfo=datetime.timezone.utc)
        if not_after - now < datetime.timedelta(days=days):
            warnings.append("%s %s on %s: run the pki role (etcdops.etcd.pki) to issue it again, then restart the "
                            "members one at a time (site.yml does both)"
                            % (path, "expired" if not_after <= now else "expires",
                               not_after.strftime("%Y-%m-%d %H:%M UTC")))
    return warnings
