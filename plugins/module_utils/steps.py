# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The data-changing steps of a plan, each run with real etcd binaries."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from . import etcd2
from .compat import QUICK_ELECTION_FLAGS, SNAPSHOT_ON_UPGRADE, STORAGE_VERSION, downgrade_check_flags, holds
from .options import flag_names
from .plan import CONVERT_TO_ETCD2, CONVERT_TO_ETCD3, DOWNGRADE_API, DOWNGRADE_SNAPSHOT, UPGRADE
from .versions import MigrationError, cluster_version_text, minor, minor_text


class StepRunner:
    """Runs plan steps on one data dir with etcd's binaries.

    Both are seams: ``data_dir`` a DataDir (the steps read its member IDs and readiness and replace its
    member directory), ``etcd`` an EtcdBinaries (the members and tools of each version); unit tests pass
    stand-ins for them.

    ``options`` is the run's MigrateOptions: the steps read the member settings (name, client_port,
    listen_peer_urls, initial_advertise_peer_urls, initial_cluster, initial_cluster_token,
    server_extra_args), timeout and the etcd2 conversion's ttl_keys_prefix and ttl_keys_ttl.
    """

    def __init__(self, data_dir, etcd, work_dir, options, log_dir=None):
        self.data_dir = data_dir
        self.etcd = etcd
        self.work_dir = work_dir
        # Off the data's disk, so a full disk cannot cut the log that says so.
        self.log_dir = log_dir or work_dir
        self.options = options
        self.notes = []

    def run(self, step):
        handler = {UPGRADE: self.upgrade, DOWNGRADE_SNAPSHOT: self.downgrade_snapshot,
                   DOWNGRADE_API: self.downgrade_api, CONVERT_TO_ETCD3: lambda step: etcd2.convert_to_etcd3(self, step),
                   CONVERT_TO_ETCD2: lambda step: etcd2.convert_to_etcd2(self, step)}[step.action]
        handler(step)

    # --- helpers --------------------------------------------------------

    def member(self, version, data_dir=None, **overrides):
        """A temporary member of ``version`` on the data dir (or on ``data_dir``), with the module's settings."""
        opts = self.options
        settings = dict(
            name=opts.name or "default", client_port=opts.client_port,
            listen_peer_urls=opts.listen_peer_urls,
            initial_advertise_peer_urls=opts.initial_advertise_peer_urls,
            initial_cluster=opts.initial_cluster, extra_args=opts.server_extra_args)
        settings.update(overrides)
        if data_dir is None:
            settings["wal_dir"] = self.data_dir.wal_dir
        log_path = os.path.join(self.log_dir, "etcd-%s%s.log" % (version, "-new" if data_dir else ""))
        return self.etcd.member(version, data_dir or self.data_dir.path, log_path, **settings)

    def data_ids(self):
        """(member ID, cluster ID) as the data dir's WAL records them, for proving who answers."""
        return self.data_dir.member_ids()

    def identity(self, member):
        """(status header, name, peer URLs, initial cluster) to rebuild this member elsewhere with the same IDs.

        The module's settings win; otherwise what the member itself reports.
        """
        header = member.status()["header"]
        me = [m for m in member.ctl_json("member", "list")["members"] if m["ID"] == header["member_id"]][0]
        opts = self.options
        name = opts.name or me["name"]
        peer_urls = opts.initial_advertise_peer_urls or ",".join(me["peerURLs"])
        initial_cluster = opts.initial_cluster or ",".join("%s=%s" % (name, u) for u in peer_urls.split(","))
        return header, name, peer_urls, initial_cluster

    def wait_on(self, member, version, ids, condition=None, what=None):
        """Wait until ``member`` is ready on ``version``, and prove it runs on this data: the etcd that answers
        must report the member and cluster IDs read from the data before it started (a foreign etcd on the
        port, or a flag pointing it at other data, would not)."""
        info = member.wait_ready(
            self.options.timeout, cluster_version=cluster_version_text(version),
            storage_version=cluster_version_text(version) if holds(STORAGE_VERSION, version) else None,
            condition=condition, what=what)
        header = member.status()["header"]
        if (int(header["member_id"]), int(header["cluster_id"])) != ids:
            raise MigrationError("the etcd answering on %s reports member %x of cluster %x, but the data holds member "
                                 "%x of cluster %x: another etcd answers on that port, or the temporary member does "
                                 "not run on this data; choose a free client_port"
                                 % ((member.client_url, int(header["member_id"]), int(header["cluster_id"])) + ids))
        return info

    # --- steps ----------------------------------------------------------

    def upgrade(self, step):
        """Run the hop's binary until the cluster (and storage) version is the hop's, then stop it."""
        version = step.binary
        ids = self.data_ids()
        with self.member(version, snapshot_count=1) as member:
            self.wait_on(member, version, ids)
            if holds(SNAPSHOT_ON_UPGRADE, version):
                # The next minor (3.6+) must not replay v2-era WAL entries.
                member.force_snapshot(self.options.timeout)
        self.check_ready_for("%d.%d" % (version.major, version.minor + 1),
                             asked_for=minor(version) < minor(self.options.target_version))

    def check_ready_for(self, next_minor, asked_for=True):
        """Read the stopped data dir back: the next minor must be able to start on it. When the target stops short
        of that minor (it runs on the data) a blocker is a note for later, not a failure."""
        readiness = self.data_dir.ready_for_next().get(next_minor)
        if readiness and not readiness["ready"]:
            problem = "the data is not ready for etcd %s: %s" % (next_minor, "; ".join(readiness["blockers"]))
            if not asked_for:
                self.notes.append(problem)
                return
            raise MigrationError(problem)

    def downgrade_snapshot(self, step):
        """Snapshot with the current version, restore with the target's tool, prove it on the target."""
        current, target = step.tool, step.binary
        snapshot = os.path.join(self.work_dir, "downgrade-%s.db" % step.from_version)
        with self.member(current) as member:
            self.wait_on(member, current, self.data_ids())
            before, name, peer_urls, initial_cluster = self.identity(member)
            member.ctl("snapshot", "save", snapshot)
        opts = self.options
        restored = os.path.join(self.work_dir, "restored")
        tools = self.etcd.tools(target)
        restore_args = ["snapshot", "restore", snapshot, "--name", name, "--initial-cluster", initial_cluster,
                        "--initial-cluster-token", opts.initial_cluster_token,
                        "--initial-advertise-peer-urls", peer_urls, "--data-dir", restored]
        tools.run("etcdutl" if tools.has_etcdutl else "etcdctl", restore_args, timeout=opts.timeout)
        self.data_dir.replace_member(os.path.join(restored, "member"))
        with self.member(target, name=name, initial_advertise_peer_urls=peer_urls,
                         initial_cluster=initial_cluster) as member:
            self.wait_on(member, target, self.data_ids())
            after = member.status()["header"]
        for field in ("member_id", "cluster_id"):
            if after[field] != before[field]:
                self.notes.append(
                    "the restore changed the %s from %x to %x: give name, initial_cluster, "
                    "initial_advertise_peer_urls and initial_cluster_token as the member was bootstrapped with"
                    % (field.replace("_", " "), before[field], after[field]))

    def downgrade_api(self, step):
        """etcd's downgrade API on the current version, then the target binary finishes it."""
        current, target = step.tool, step.binary
        goal = minor_text(target)
        ids = self.data_ids()
        quick = _quick_elections(self.options.server_extra_args)
        with self.member(current, extra_args=quick) as member:
            self.wait_on(member, current, ids)
            member.ctl("downgrade", "validate", goal)
            member.ctl("downgrade", "enable", goal)
        # A restart is a new term: the leader lowers the cluster version (VERSION_CHECK_AT_NEW_TERM) and
        # migrates the storage schema down at once, where the running member would wait up to 4s.
        with self.member(current, extra_args=quick) as member:
            member.wait_ready(self.options.timeout, cluster_version=cluster_version_text(target),
                              condition=lambda m: m.status().get("storageVersion") == cluster_version_text(target),
                              what="storage version %s" % cluster_version_text(target))
        with self.member(target, extra_args=quick + downgrade_check_flags(target)) as member:
            # From 3.6 on the member reports when the downgrade is over (and ends it at the check interval the
            # flag shortens); 3.5 cannot tell.
            self.wait_on(member, target, ids, condition=_downgrade_finished if holds(STORAGE_VERSION, target) else None,
                         what="the downgrade to finish")


def _quick_elections(extra_args):
    """``extra_args`` after QUICK_ELECTION_FLAGS, or alone when they time elections themselves: half of each
    could break etcd's rule that the election timeout be at least five heartbeat intervals."""
    timed = set(flag_names(extra_args)) & {"heartbeat-interval", "election-timeout"}
    return ([] if timed else list(QUICK_ELECTION_FLAGS)) + list(extra_args)


def _downgrade_finished(member):
    return not member.status().get("downgradeInfo", {}).get("enabled")
