# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The data-changing steps of a plan, each run with real etcd binaries."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

from .detect import safe_detect
from .etcd_process import Member, Toolset, reports_storage_version
from .plan import DOWNGRADE_API, DOWNGRADE_SNAPSHOT, UPGRADE
from .versions import MigrationError, cluster_version_text, minor, minor_text, parse_version


class StepRunner:
    """Runs plan steps on one data dir with the binaries under ``bin_dir``.

    ``options`` holds the module's member settings: name, client_port,
    listen_peer_urls, initial_advertise_peer_urls, initial_cluster,
    initial_cluster_token, server_extra_args and timeout.
    """

    def __init__(self, data_dir, bin_dir, work_dir, options):
        self.data_dir = data_dir
        self.bin_dir = bin_dir
        self.work_dir = work_dir
        self.options = options
        self.notes = []

    def run(self, step):
        handler = {UPGRADE: self.upgrade, DOWNGRADE_SNAPSHOT: self.downgrade_snapshot,
                   DOWNGRADE_API: self.downgrade_api}[step.action]
        handler(step)

    # --- helpers --------------------------------------------------------

    def member(self, version, **overrides):
        opts = self.options
        settings = dict(
            name=opts["name"] or "default", client_port=opts["client_port"],
            listen_peer_urls=opts["listen_peer_urls"],
            initial_advertise_peer_urls=opts["initial_advertise_peer_urls"],
            initial_cluster=opts["initial_cluster"], extra_args=opts["server_extra_args"])
        settings.update(overrides)
        log_path = os.path.join(self.work_dir, "etcd-%s.log" % version)
        return Member(Toolset(self.bin_dir, version), self.data_dir.path, log_path, **settings)

    def wait_on(self, member, version, condition=None, what=None):
        return member.wait_ready(
            self.options["timeout"], cluster_version=cluster_version_text(version),
            storage_version=cluster_version_text(version) if reports_storage_version(version) else None,
            condition=condition, what=what)

    # --- steps ----------------------------------------------------------

    def upgrade(self, step):
        """Run the hop's binary until the cluster (and storage) version is the hop's, then stop it."""
        version = parse_version(step.binary)
        with self.member(version, snapshot_count=1) as member:
            self.wait_on(member, version)
            if minor(version) >= (3, 5):
                # The next minor (3.6+) must not replay v2-era WAL entries.
                member.force_snapshot(self.options["timeout"])
        self.check_ready_for("%d.%d" % (version.major, version.minor + 1))

    def check_ready_for(self, next_minor):
        """Read the stopped data dir back: the next minor must be able to start on it."""
        readiness = safe_detect(self.data_dir.path).get("ready_for_next", {}).get(next_minor)
        if readiness and not readiness["ready"]:
            raise MigrationError("the data is not ready for etcd %s: %s" % (next_minor, "; ".join(readiness["blockers"])))

    def downgrade_snapshot(self, step):
        """Snapshot with the current version, restore with the target's tool, prove it on the target."""
        current, target = parse_version(step.tool), parse_version(step.binary)
        snapshot = os.path.join(self.work_dir, "downgrade-%s.db" % step.from_version)
        with self.member(current) as member:
            self.wait_on(member, current)
            status = member.status()
            me = [m for m in member.ctl_json("member", "list")["members"]
                  if m["ID"] == status["header"]["member_id"]][0]
            member.ctl("snapshot", "save", snapshot)
        opts = self.options
        name = opts["name"] or me["name"]
        peer_urls = opts["initial_advertise_peer_urls"] or ",".join(me["peerURLs"])
        initial_cluster = opts["initial_cluster"] or ",".join("%s=%s" % (name, u) for u in peer_urls.split(","))
        restored = "%s.restore-%d" % (self.data_dir.path, os.getpid())
        shutil.rmtree(restored, ignore_errors=True)
        tools = Toolset(self.bin_dir, target)
        restore_args = ["snapshot", "restore", snapshot, "--name", name, "--initial-cluster", initial_cluster,
                        "--initial-cluster-token", opts["initial_cluster_token"],
                        "--initial-advertise-peer-urls", peer_urls, "--data-dir", restored]
        try:
            tools.run("etcdutl" if tools.has_etcdutl else "etcdctl", restore_args, timeout=opts["timeout"])
            member_dir = self.data_dir.file("member")
            shutil.rmtree(member_dir)
            os.rename(os.path.join(restored, "member"), member_dir)
        finally:
            shutil.rmtree(restored, ignore_errors=True)
        with self.member(target, name=name, initial_advertise_peer_urls=peer_urls,
                         initial_cluster=initial_cluster) as member:
            self.wait_on(member, target)
            after = member.status()["header"]
        for field in ("member_id", "cluster_id"):
            if after[field] != status["header"][field]:
                self.notes.append(
                    "the restore changed the %s from %x to %x: give name, initial_cluster, "
                    "initial_advertise_peer_urls and initial_cluster_token as the member was bootstrapped with"
                    % (field.replace("_", " "), status["header"][field], after[field]))

    def downgrade_api(self, step):
        """etcd's downgrade API on the current version, then the target binary finishes it."""
        current, target = parse_version(step.tool), parse_version(step.binary)
        goal = minor_text(target)
        with self.member(current) as member:
            self.wait_on(member, current)
            member.ctl("downgrade", "validate", goal)
            member.ctl("downgrade", "enable", goal)
            # The leader lowers the cluster version and migrates the storage schema down.
            member.wait_ready(self.options["timeout"], cluster_version=cluster_version_text(target),
                              condition=lambda m: m.status().get("storageVersion") == cluster_version_text(target),
                              what="storage version %s" % cluster_version_text(target))
        with self.member(target) as member:
            # From 3.6 on the member reports when the downgrade is over; 3.5 cannot tell.
            self.wait_on(member, target, condition=_downgrade_finished if reports_storage_version(target) else None,
                         what="the downgrade to finish")


def _downgrade_finished(member):
    return not member.status().get("downgradeInfo", {}).get("enabled")
