# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""etcd's per-minor rules, in one table, each with where upstream says it.

Every decision that depends on which etcd minor (or patch) runs reads a rule
from here: the plan, the steps, the temporary member, the data dir readiness
and the rolling pre-flight.  A rule's ``since`` is the first (major, minor)
it holds for; ``source`` is the etcd file, CHANGELOG or doc that says so.
Citations: ``etcd@<branch>:<path>``, ``website:<path>`` (the etcd website's
``content/en/docs``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from .versions import minor

Rule = namedtuple("Rule", "since what source")

# --- the API and the tools ----------------------------------------------------------------------------------
ETCDCTL_V3_DEFAULT = Rule(
    (3, 4), "etcdctl speaks the v3 API without ETCDCTL_API=3",
    "website:v3.4/upgrades/upgrade_3_4.md (ETCDCTL_API=3 becomes the default)")
V3_GATEWAY = Rule(
    (3, 4), "the gRPC gateway is /v3 (/v3beta before)",
    "website:v3.4/upgrades/upgrade_3_4.md (/v3beta replaced by /v3)")
V2_API_OFF_BY_DEFAULT = Rule(
    (3, 4), "the v2 API is served only with --enable-v2=true",
    "etcd@release-3.4:embed/config.go (DefaultEnableV2 false; true in 3.3)")
V2_API_REMOVED = Rule(
    (3, 6), "--enable-v2 (and the v2 API) is gone: the flag or config key is refused",
    "CHANGELOG-3.6 and website:v3.6/upgrades/upgrade_3_6.md (removed: --enable-v2)")
EXPERIMENTAL_FLAGS_REMOVED = Rule(
    (3, 7), "the experimental-* flags and config keys are refused (renamed or feature gates)",
    "CHANGELOG-3.7 (experimental flags deprecated in 3.6 are removed)")
ARCH_GATE_LIFTED = Rule(
    (3, 5), "arm64 runs without ETCD_UNSUPPORTED_ARCH",
    "etcd@release-3.4:etcdmain/etcd.go checkSupportArch (amd64 and ppc64le only)")
STORAGE_VERSION = Rule(
    (3, 6), "the server reports (and keeps) a storage version: /version 'storage', meta/storageVersion",
    "etcd@release-3.6:server/storage/schema/schema.go (UpdateStorageVersion)")
DOWNGRADE_API = Rule(
    (3, 6), "etcd's downgrade API (etcdctl downgrade validate/enable) moves a running cluster down one minor",
    "website:v3.6/downgrades/downgrading-etcd.md")
DOWNGRADE_CHECK_TIME_FLAG = Rule(
    (3, 6), "--downgrade-check-time sets how often the leader checks whether a downgrade is over (and ends it); "
            "etcd --help of 3.6.16 and 3.7.3 shows it (3.6 also keeps --experimental-downgrade-check-time)",
    "CHANGELOG-3.6 (--experimental-downgrade-check-time deprecated, use --downgrade-check-time)")
# The downgrade's target member checks this often: etcd's default, 5s, is what the step would otherwise wait
# out.  3.5 is left at its default: with the experimental flag set, 3.5.35 took 7s more to shut down.
DOWNGRADE_CHECK_TIME = "100ms"
VERSION_CHECK_AT_NEW_TERM = Rule(
    (3, 0), "the leader sets the cluster version (from 3.5 also to an enabled downgrade's target) at the first "
            "commit of each term, otherwise only every 4s: monitorVersionInterval, a constant (no flag in etcd --help of "
            "3.5.35, 3.6.16 or 3.7.3)",
    "etcd@release-3.5:server/etcdserver/server.go (monitorVersions, forceVersionC on a term's empty entry); "
    "etcd@release-3.6:server/etcdserver/server.go (monitorClusterVersions, firstCommitInTerm; "
    "monitorVersionInterval = rafthttp.ConnWriteTimeout - time.Second)")
# A temporary single member fast-forwards all but one election tick at start, then waits one to ten ticks
# (raft's randomized timeout) to elect itself: 10ms ticks make that 10-100ms instead of 0.1-1s.  Timing
# only, nothing of it is stored; every 3.x takes both flags in milliseconds (etcd --help: 100 and 1000).
QUICK_ELECTION_FLAGS = ("--heartbeat-interval=10", "--election-timeout=100")

# --- etcd2 (v2 store) data ----------------------------------------------------------------------------------
ETCDCTL_MIGRATE_REMOVED = Rule(
    (3, 5), "'etcdctl migrate' (v2 store into mvcc) is gone",
    "CHANGELOG-3.5 (ETCDCTL_API=3 etcdctl migrate has been decommissioned)")
V2_STORE_REMOVED = Rule(
    (3, 6), "no v2 store to serve etcd2 data from",
    "website:v3.6/upgrades/upgrade_3_6.md (--enable-v2 removed; v2store write-only)")
CUSTOM_V2_CONTENT_REFUSED = Rule(
    (3, 6), "a .snap holding custom v2 data, or a v2 WAL entry other than membership and /0/version, "
            "stops the server",
    "etcd@release-3.6:server/storage/util.go AssertNoV2StoreContent, server/etcdserver/apply_v2.go")
V2_WAL_ENTRIES_UNAPPLIED = Rule(
    (3, 7), "no v2 WAL entry can be applied: the WAL tail after the last snapshot must hold none",
    "etcd@release-3.7:server/etcdserver/apply (the v2 applier is gone)")
# The v2 WAL entries 3.6 still applies (membership attributes and the cluster version).
V2_WAL_ALLOWED_AT_3_6 = ("/0/members/", "/0/version")
# `etcdutl check v2store` exists from this patch (and reads WAL records too from 3.5.32).
CHECK_V2STORE_SINCE = "3.5.18"
CHECK_V2STORE_SOURCE = "website:v3.6/upgrades/upgrade_3_6.md; etcd@release-3.5:etcdutl/ctl.go (3.5.18)"

# --- leaving a minor ----------------------------------------------------------------------------------------
# Before leaving a minor a member must be on at least the floor; below the recommended patch upstream warns.
PATCH_FLOORS = {
    (3, 5): ("3.5.26", "3.5.32"),  # website:v3.6/upgrades/upgrade_3_6.md; 2025 blog (#20967)
    (3, 6): ("3.6.11", "3.6.11"),  # website:v3.7/upgrades/upgrade_3_7.md
}
SNAPSHOT_ON_UPGRADE = Rule(
    (3, 5), "a hop's temporary member cuts a snapshot past everything applied, so the next minor replays no "
            "v2-era WAL entries",
    "website:v3.6/upgrades/upgrade_3_6.md (v2 WAL content goes at the next snapshot; --snapshot-count=1)")
# In a rolling change: members of these minors restart with snapshot-count 1 when a later hop follows
# (3.6 panics on their v2-era entries, 3.7 cannot apply them).
SNAPSHOT_BEFORE_NEXT_MINOR = ((3, 5), (3, 6))
AUTH_BLOCKS_ROLLING_INTO = Rule(
    (3, 5), "a rolling upgrade into this minor is unsupported while auth is on (the WAL format of auth "
            "entries changes)",
    "website:v3.5/upgrades/upgrade_3_5.md (PR #11943)")


def holds(rule, version):
    """Whether ``rule`` holds for ``version`` (a semver version)."""
    return minor(version) >= rule.since


def crosses(rule, left, reached):
    """Whether going from ``left`` to ``reached`` (semver versions) enters ``rule``'s minor."""
    return minor(left) < rule.since <= minor(reached)


def downgrade_check_flags(version):
    """The flag that makes ``version``'s leader check a downgrade's progress every DOWNGRADE_CHECK_TIME."""
    return ["--downgrade-check-time=%s" % DOWNGRADE_CHECK_TIME] if holds(DOWNGRADE_CHECK_TIME_FLAG, version) else []


def v2_api_flags(version):
    """The flags that make ``version`` serve the v2 API (3.3 serves it anyway)."""
    return ["--enable-v2=true"] if holds(V2_API_OFF_BY_DEFAULT, version) else []


def rejected_settings(version, extra_config=None):
    """The keys of the server role's configuration that ``version`` refuses, to leave out of it (FLAGS_REMOVED):
    ``enable-v2`` from 3.6, and the removed keys of ``extra_config`` (``experimental-*`` from 3.7, ...)."""
    return removed_settings(version, dict(dict.fromkeys(["enable-v2"]), **(extra_config or {})))


# --- the flags each minor removed (etcd --help of 3.3.25, 3.4.23, 3.5.35, 3.6.16, 3.7.3 compared, each removed flag
# refused by the next binary: "flag provided but not defined"); a name ending in "-" stands for every flag it starts.
FLAGS_REMOVED = (
    ((3, 4), ("ca-file", "peer-ca-file")),
    ((3, 5), ("log-output", "debug", "log-package-levels", "experimental-backend-bbolt-freelist-type")),
    ((3, 6), ("enable-v2", "experimental-enable-v2v3", "proxy", "proxy-")),
    ((3, 7), ("experimental-",)),
)
# Values a minor refuses although the flag stays ("--logger=capnslog is removed in v3.5").
VALUES_REMOVED = (((3, 5), "logger", "capnslog"),)
# etcd's boolean flags (a lone --flag is true; it never takes the next argument): those --help shows with a 'true' or
# 'false' default or with none, in the same versions.
BOOLEAN_FLAGS = frozenset((
    "auto-tls", "client-cert-auth", "debug", "discovery-insecure-skip-tls-verify", "discovery-insecure-transport",
    "enable-distributed-tracing", "enable-grpc-gateway", "enable-log-rotation", "enable-pprof", "enable-v2",
    "experimental-compact-hash-check-enabled", "experimental-enable-distributed-tracing",
    "experimental-enable-lease-checkpoint", "experimental-enable-lease-checkpoint-persist",
    "experimental-initial-corrupt-check", "experimental-memory-mlock",
    "experimental-peer-skip-client-san-verification", "experimental-stop-grpc-service-on-defrag",
    "experimental-txn-mode-write-with-shared-buffer", "force-new-cluster", "help", "initial-election-tick-advance",
    "memory-mlock", "peer-auto-tls", "peer-client-cert-auth", "peer-skip-client-san-verification", "pre-vote",
    "socket-reuse-address", "socket-reuse-port", "strict-reconfig-check", "unsafe-no-fsync", "version"))


def removed_settings(version, settings):
    """The ``{name: value}`` settings ``version`` (a semver version) no longer accepts: a removed flag, or a
    removed value of a flag it keeps."""
    removed = []
    for since, names in FLAGS_REMOVED:
        if minor(version) >= since:
            removed.extend(name for name in settings
                           if any(name == gone or gone.endswith("-") and name.startswith(gone) for gone in names))
    removed.extend(name for since, name, value in VALUES_REMOVED
                   if minor(version) >= since and settings.get(name) == value)
    return sorted(set(removed))
