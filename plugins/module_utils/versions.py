# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""etcd versions and storage names, parsed and compared with the semver library."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback
from collections import namedtuple

try:
    import semver
except ImportError:
    SemVer = None
    SEMVER_IMPORT_ERROR = traceback.format_exc()
else:
    SEMVER_IMPORT_ERROR = None
    # semver 3 names the class Version; 2.10 (Debian 12's python3-semver) calls it VersionInfo.
    SemVer = getattr(semver, "Version", None) or semver.VersionInfo

STORAGES = ("etcd2", "etcd3")


class MigrationError(Exception):
    """A problem the operator has to fix; the message names it and the fix."""


def parse_version(text, what="version"):
    """Parse ``3.5.30`` (a leading ``v`` is tolerated) into a ``semver.Version``."""
    raw = str(text).strip()
    try:
        return SemVer.parse(raw[1:] if raw.startswith("v") else raw)
    except (TypeError, ValueError):
        raise MigrationError(
            "%s %r is not an etcd version: give MAJOR.MINOR.PATCH, for example 3.5.30" % (what, text))


def check_storage(storage, what="storage"):
    if storage not in STORAGES:
        raise MigrationError("%s %r is unknown: use one of %s" % (what, storage, ", ".join(STORAGES)))
    return storage


class Versioned(namedtuple("Versioned", "version storage")):
    """A data dir's version (semver) and storage (etcd2 or etcd3), as version.txt records them: Kubernetes'
    ``EtcdVersionPair``.  Kept typed down to the result, where ``as_result`` writes it as text once."""

    __slots__ = ()

    def __str__(self):
        return "%s/%s" % (self.version, self.storage)

    def as_result(self):
        return {"version": None if self.version is None else str(self.version), "storage": self.storage}


def minor(version):
    """The (major, minor) pair that etcd's compatibility rules are about."""
    return (version.major, version.minor)


def minor_text(version):
    return "%d.%d" % minor(version)


def cluster_version_text(version):
    """How etcd itself writes a cluster or storage version: ``3.5.0``."""
    return "%d.%d.0" % minor(version)
