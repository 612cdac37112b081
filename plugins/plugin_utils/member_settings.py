# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The settings of a member the collection did not install, by etcd's rules, from what its process was given.

The input is ``etcd_member_process``'s: the command line, the ``ETCD_*`` environment, the working directory and
the configuration file's text. etcd's rules:

- a configuration file (``--config-file`` or ``ETCD_CONFIG_FILE``) replaces every other flag and variable
  (etcd logs that it ignores them);
- otherwise flags and ``ETCD_*`` variables add up; when both give one setting 3.3 takes the flag (with a warning)
  and 3.4 and later refuse to start ("conflicting environment variable ... is shadowed"), so the source names both;
- boolean values are Go's (``1``, ``t``, ``True`` ... are true);
- relative paths are relative to the working directory, and a member without ``data-dir`` keeps its data in
  ``<name>.etcd`` there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os

try:
    from urllib.parse import urlsplit
except ImportError:  # Python 2
    from urlparse import urlsplit

import yaml

from ansible_collections.etcdops.etcd.plugins.module_utils.compat import BOOLEAN_FLAGS
from ansible_collections.etcdops.etcd.plugins.module_utils.member_process import (
    SettingsError, environment_settings, parse_flags)

# The configuration file's TLS sections, and the flag names their keys stand for.
TLS_SECTIONS = {"client-transport-security": "", "peer-transport-security": "peer-"}
PATH_SETTINGS = ("data-dir", "wal-dir", "cert-file", "key-file", "trusted-ca-file", "client-crl-file",
                 "peer-cert-file", "peer-key-file", "peer-trusted-ca-file", "peer-crl-file")
# etcd's defaults for what the collection needs to reach the member (the same from 3.0 to 3.7).
DEFAULTS = {"name": "default", "listen-client-urls": "http://localhost:2379",
            "advertise-client-urls": "http://localhost:2379", "listen-peer-urls": "http://localhost:2380",
            "initial-advertise-peer-urls": "http://localhost:2380"}
DEFAULT_SOURCE = "etcd's default"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Go's strconv.ParseBool, which etcd's boolean flags and variables use.
GO_BOOLEANS = dict([(text, "true") for text in ("1", "t", "T", "TRUE", "true", "True")]
                   + [(text, "false") for text in ("0", "f", "F", "FALSE", "false", "False")])


def _text(value):
    """A configuration value as etcd's flag would hold it: booleans lower-case, lists comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(item) for item in value)
    return "" if value is None else str(value)


def config_file_settings(text, path):
    """``{name: value}`` of a configuration file, its TLS sections as the flags they stand for."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SettingsError("%s, the member's configuration file, is not YAML (%s)" % (path, error))
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise SettingsError("%s, the member's configuration file, is not a mapping of settings" % path)
    settings = {}
    for key, value in loaded.items():
        if key in TLS_SECTIONS and isinstance(value, dict):
            settings.update(("%s%s" % (TLS_SECTIONS[key], name), _text(item)) for name, item in value.items())
        else:
            settings[str(key)] = _text(value)
    return settings


def effective_settings(process):
    """(settings, sources) of a member from ``etcd_member_process``'s reading of it.

    Each source says where a setting came from: ``flag``, ``environment (ETCD_NAME)``, ``configuration file PATH``
    or etcd's default.
    """
    flags = parse_flags(list(process["argv"][1:]))
    environment = environment_settings(process["environment"])
    cwd = process["cwd"]
    if process.get("config_file"):
        path = process["config_file"]
        settings = config_file_settings(process.get("config_text", ""), path)
        sources = dict.fromkeys(settings, "configuration file %s" % path)
    else:
        settings = dict(environment)
        sources = {name: "environment (ETCD_%s)" % name.upper().replace("-", "_") for name in environment}
        settings.update(flags)
        # 3.3 runs with both (the flag wins); 3.4 and later refuse to start: both stay named.
        sources.update((name, "flag and " + sources[name] if name in sources else "flag") for name in flags)
    for name in BOOLEAN_FLAGS & set(settings):
        settings[name] = GO_BOOLEANS.get(settings[name], settings[name])
    for name, value in DEFAULTS.items():
        if not settings.get(name):
            settings[name], sources[name] = value, DEFAULT_SOURCE
    if not settings.get("data-dir"):
        settings["data-dir"], sources["data-dir"] = "%s.etcd" % settings["name"], DEFAULT_SOURCE
    for name in PATH_SETTINGS:
        if settings.get(name):
            settings[name] = os.path.normpath(os.path.join(cwd, settings[name]))
    return settings, sources


def _urls(value):
    return [url.strip() for url in value.split(",") if url.strip()]


def _certificate_names_host(names, host):
    """Whether a certificate whose subject alternative names are ``names`` (``DNS:x``, ``IP:a.b.c.d``, as
    community.crypto's x509_certificate_info gives them) is valid for ``host``, as Go's VerifyHostname decides: an
    address only by an IP name, a name by an equal DNS name or a wildcard standing for its first label."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    host = host.rstrip(".").lower()
    for kind, _sep, value in (name.partition(":") for name in names):
        if kind == "IP" and address is not None:
            try:
                if ipaddress.ip_address(value) == address:
                    return True
            except ValueError:
                continue
        elif kind == "DNS" and address is None:
            value = value.rstrip(".").lower()
            if value == host or (value.startswith("*.") and host.partition(".")[2] == value[2:]):
                return True
    return False


def client_access(settings, ca_file="", cert_file="", key_file="", certificate_names=()):
    """How the collection calls the member as a client: its endpoint and the TLS files for etcdctl.

    The endpoint is a loopback URL the member listens on, or else its first advertised client URL; over TLS with
    ``certificate_names`` (its certificate's subject alternative names), the first of those its certificate is valid
    for. The CA is ``ca_file`` or the member's own trusted CA; the client certificate is ``cert_file``/``key_file``,
    or the member's own pair when it may ask for one.
    """
    loopback = [url for url in _urls(settings["listen-client-urls"])
                if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname in LOOPBACK]
    advertised = [url for url in _urls(settings["advertise-client-urls"]) if urlsplit(url).scheme in ("http", "https")]
    endpoints = loopback + [url for url in advertised if url not in loopback]
    if not endpoints:
        raise SettingsError("the member advertises no http(s) client URL (advertise-client-urls %s)"
                            % settings["advertise-client-urls"])
    if certificate_names:
        verified = [url for url in endpoints
                    if urlsplit(url).scheme == "http" or _certificate_names_host(certificate_names, urlsplit(url).hostname)]
        if not verified:
            raise SettingsError("its certificate %s is valid for %s, none of the hosts of %s: a client would refuse "
                                "it, and so would the collection's calls. Issue it for one of them as well (an IP "
                                "name 127.0.0.1 is usual), then run again"
                                % (settings.get("cert-file", ""), ", ".join(certificate_names), ", ".join(endpoints)))
        endpoints = verified
    endpoint = endpoints[0]
    access = {"endpoint": endpoint, "scheme": urlsplit(endpoint).scheme, "client_ca_file": "",
              "client_cert_file": "", "client_key_file": ""}
    if access["scheme"] != "https":
        return access
    access["client_ca_file"] = ca_file or settings.get("trusted-ca-file", "")
    if not access["client_ca_file"]:
        raise SettingsError("the member serves TLS on %s without a trusted-ca-file: give the CA that signed its "
                            "certificate as etcd_client_ca_file" % endpoint)
    if cert_file:
        access["client_cert_file"], access["client_key_file"] = cert_file, key_file
    # etcd 3.4 and later ask every client for a certificate once a trusted-ca-file is given, client-cert-auth or
    # not (measured; 3.3 only with client-cert-auth); a client that is not asked sends none.
    elif settings.get("client-cert-auth") == "true" or settings.get("trusted-ca-file"):
        access["client_cert_file"], access["client_key_file"] = settings.get("cert-file", ""), settings.get("key-file", "")
    return access


def member_settings(process, ca_file="", cert_file="", key_file="", certificate_names=()):
    """Everything the rolling change needs of an adopted member: settings, sources, data and WAL dir, access."""
    settings, sources = effective_settings(process)
    result = {"settings": settings, "sources": sources, "data_dir": settings["data-dir"],
              "binary_version": process.get("binary_version", ""),
              "wal_dir": settings.get("wal-dir", ""), "cert_file": settings.get("cert-file", ""),
              "peer_cert_file": settings.get("peer-cert-file", "")}
    result.update(client_access(settings, ca_file, cert_file, key_file, certificate_names))
    return result
