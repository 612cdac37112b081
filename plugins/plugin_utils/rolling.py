# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Pre-flight decisions and hops of a rolling change of a running cluster, from etcd_migrate's own plan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.etcdops.etcd.plugins.module_utils import compat
from ansible_collections.etcdops.etcd.plugins.module_utils.compat import (
    AUTH_BLOCKS_ROLLING_INTO, CHECK_V2STORE_SINCE, CUSTOM_V2_CONTENT_REFUSED, EXPERIMENTAL_FLAGS_REMOVED,
    SNAPSHOT_BEFORE_NEXT_MINOR, V2_API_REMOVED, V2_WAL_ENTRIES_UNAPPLIED, crosses)
from ansible_collections.etcdops.etcd.plugins.module_utils.plan import (
    DOWNGRADE_API, DOWNGRADE_SNAPSHOT, RECORD, UPGRADE, plan_migration)
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError, minor, parse_version

# A snapshot needs the db once more on the member's disk; keep room for one more beside it.
FREE_DISK_FACTOR = 2


def rejected_settings(version, extra_config=None):
    """The keys of the server role's configuration that ``version`` (text) rejects, to leave out of it."""
    return compat.rejected_settings(parse_version(version), extra_config)


def plan_hops(running, target, available, offline_allowed=False):
    """([{"version", "action"}] to roll through every member, in order; the plan's warnings).

    ``running`` holds each member's server version.  Two versions are a hop
    that stopped part-way: it is finished first, then planning goes on.
    One minor down from a cluster below 3.6 (no downgrade API) is an
    ``offline`` hop, every member restored from a snapshot with the target's
    tool, only with ``offline_allowed``; further down, the plan's one-minor
    refusal stands (a 3.6 cluster goes to 3.5 in a run of its own first)."""
    versions = sorted({parse_version(v, "running version") for v in running})
    wanted = parse_version(target, "target")
    offered = sorted({parse_version(v, "available version") for v in available} | {wanted})
    if not versions:
        raise MigrationError("no member reported its version: is etcd running on every member?")
    if len(versions) > 2 or (len(versions) == 2 and abs(minor(versions[1])[1] - minor(versions[0])[1]) > 1):
        raise MigrationError("the members run %s: a cluster must be on one version (or in the middle of one hop) "
                             "before a rolling change" % ", ".join(str(v) for v in versions))
    hops = []
    current = versions[0]
    if len(versions) == 2:
        # Resume: finish the hop the members were rolling through (up, or down to the lower version).
        resume = versions[1] if wanted >= versions[1] else versions[0]
        hops.append({"version": str(resume), "action": "upgrade" if resume == versions[1] else "downgrade"})
        current = resume
    plan = plan_migration(current, "etcd3", wanted, "etcd3", offered)
    for step in plan.steps:
        if step.action == DOWNGRADE_SNAPSHOT and not offline_allowed:
            raise MigrationError(
                "a running %s cluster cannot be downgraded in place: etcd's downgrade API starts with 3.6. The "
                "offline downgrade stops every member and restores them all from a snapshot with etcd %s's tool "
                "(the cluster down until every member is healthy on it): run again with "
                "-e etcd_allow_offline_downgrade=true" % (step.from_version, step.to_version))
        if step.action == DOWNGRADE_SNAPSHOT:
            hops.append({"version": str(step.to_version), "action": "offline"})
        elif step.action == DOWNGRADE_API:
            hops.append({"version": str(step.binary), "action": "downgrade"})
        elif step.action in (UPGRADE, RECORD):
            hops.append({"version": str(step.binary or step.to_version), "action": "upgrade"})
    return hops, list(plan.warnings)


def restore_version_refusal(snapshot_version, version):
    """Why a snapshot taken on ``snapshot_version`` may not be restored onto ``version`` ("" when it may).

    It may be restored onto its own version, or one minor below it where etcd has no downgrade API (the
    offline downgrade: 3.5 -> 3.4, 3.4 -> 3.3), as the rolling plan's offline hop."""
    if str(version) == str(snapshot_version):
        return ""
    try:
        hops = plan_hops([snapshot_version], version, [snapshot_version, version], offline_allowed=True)[0]
    except MigrationError as exc:
        reason = str(exc)
    else:
        if [hop["action"] for hop in hops] == ["offline"]:
            return ""
        reason = ("from 3.6 a cluster changes version while it runs: upgrade.yml -e etcd_target_version=%s"
                  % version)
    return ("a snapshot of etcd %s is restored onto its own version, or one minor below it under 3.6 (the offline "
            "downgrade: 3.5 to 3.4, 3.4 to 3.3), not onto %s: %s" % (snapshot_version, version, reason))


def _annotate(hops, running):
    """Each hop with the version it leaves and what must be checked before a member starts it."""
    versions = sorted(parse_version(v) for v in running)
    # A resumed hop leaves the members still on the other side of it.
    before = str(versions[0] if not hops or hops[0]["action"] == "upgrade" else versions[-1])
    for hop in hops:
        left, reached = parse_version(before), parse_version(hop["version"])
        hop["from"] = before
        hop["minor"] = "%d.%d" % minor(reached)
        hop["together"] = False
        # 3.6 refuses custom v2 content; check it on each stopped 3.5 member with that member's etcdutl.
        refused = CUSTOM_V2_CONTENT_REFUSED.since
        hop["check_v2store"] = (minor(left) == (refused[0], refused[1] - 1) and minor(reached) == refused
                                and left >= parse_version(CHECK_V2STORE_SINCE))
        before = hop["version"]
    return hops


def _configure(hops, settings):
    """Each hop with the server role's settings for it: ``snapshot_count`` and ``rejected_settings``."""
    for index, hop in enumerate(hops):
        followed = index + 1 < len(hops)
        hop["snapshot_count"] = (1 if followed and minor(parse_version(hop["version"])) in SNAPSHOT_BEFORE_NEXT_MINOR
                                 else int(settings.get("snapshot_count") or 0))
        hop["rejected_settings"] = rejected_settings(hop["version"], settings.get("extra_config"))
    return hops


def _dropped_on_the_way(hops, settings):
    """The operator's settings that a version the hops upgrade to no longer accepts, and why."""
    dropped = []
    crossed = [(parse_version(hop["from"]), parse_version(hop["version"]))
               for hop in hops if hop["action"] == "upgrade"]
    if settings.get("enable_v2") and any(crosses(V2_API_REMOVED, left, reached) for left, reached in crossed):
        dropped.append("enable-v2 (removed in 3.6; v2 clients must move to the v3 API first)")
    if any(crosses(EXPERIMENTAL_FLAGS_REMOVED, left, reached) for left, reached in crossed):
        dropped.extend("%s (removed in 3.7; use %s or its feature gate)" % (key, key[len("experimental-"):])
                       for key in sorted(settings.get("extra_config") or {}) if key.startswith("experimental-"))
    return dropped


def _v2_gates(hops, members, errors, warnings):
    """What each member's data says about the 3.5, 3.6 and 3.7 hops (etcd_datadir_info's, read live).

    v2 entries in a WAL tail go at the next snapshot: a hop on 3.5/3.6 that a later
    hop follows runs with snapshot-count 1; when the crossing is the first hop, a
    snapshot hop on the running version comes first.  Custom v2 data in the store
    is the operator's to remove.
    """
    refresh = None
    # Resuming a hop, a snapshot hop would first take the members past it back: the operator rolls it back instead.
    resumed = len(set(member.get("version") for member in members)) > 1
    for rule in (CUSTOM_V2_CONTENT_REFUSED, V2_WAL_ENTRIES_UNAPPLIED):
        gate = "%d.%d" % rule.since
        crossing = [i for i, hop in enumerate(hops) if hop["action"] == "upgrade"
                    and crosses(rule, parse_version(hop["from"]), parse_version(hop["version"]))]
        if not crossing:
            continue
        roll_back = ("the hop to %s was stopped part-way: roll it back (etcd_target_version=%s), then run again, and "
                     "every member is restarted once with snapshot-count 1 first" % (hops[0]["version"], hops[0]["from"]))
        for member in members:
            if minor(parse_version(member["version"])) >= rule.since:
                continue  # already past the gate
            report = (member.get("ready_for_next") or {}).get(gate)
            if report is None:
                # Unread, a WAL tail may hold v2 entries: 3.7 panics replaying one, at every start (measured on
                # 3.7.3), and etcdutl check v2store on the stopped member does not flag etcd's own publishes. The
                # hops on 3.5/3.6 before a later crossing snapshot past them; a first crossing gets the snapshot hop.
                if crossing[0] > 0:
                    then = "the hops before %s run with snapshot-count 1" % gate
                elif resumed:
                    then = "if its WAL tail holds v2 entries %s does not start on it (its switch puts it back); %s" % (
                        gate, roll_back)
                else:
                    refresh = hops[0]["from"]
                    then = "every member is restarted once on %s with snapshot-count 1 first" % refresh
                warnings.append("%s: its data could not be read live (a read can meet a write; the next run reads it "
                                "anew), so %s%s" % (member["host"], then,
                                                    "; etcdutl check v2store on the stopped member decides before %s "
                                                    "starts" % gate if rule is CUSTOM_V2_CONTENT_REFUSED else ""))
                continue
            for blocker in report.get("blockers") or []:
                if "WAL" not in blocker:
                    errors.append("%s: %s, which %s refuses: move its v2 clients to the v3 API and delete the v2 keys "
                                  "(ETCDCTL_API=2 etcdctl rm) before this change" % (member["host"], blocker, gate))
                elif crossing[0] == 0 and resumed:
                    errors.append("%s: %s, which %s cannot start on, and %s"
                                  % (member["host"], blocker, gate, roll_back))
                elif crossing[0] == 0:
                    refresh = hops[0]["from"]
                    warnings.append("%s: %s; every member is restarted once on %s with snapshot-count 1 first"
                                    % (member["host"], blocker, refresh))
    if refresh:
        hops.insert(0, {"version": refresh, "action": "snapshot", "from": refresh,
                        "minor": "%d.%d" % minor(parse_version(refresh)), "check_v2store": False,
                        "together": False})


def _auth_hop(hops, members, settings, errors, warnings):
    """3.4 -> 3.5 with auth on cannot roll: 3.5 hashes a new password before raft, and a 3.4 member applies that
    entry as a user with an empty password (measured: the user's password then fails on every 3.4 member, for
    good). With every member stopped before any starts on 3.5 no entry crosses versions: the hop is made together,
    a whole-cluster outage of about one restart, when the operator allows it."""
    with_auth = [member["host"] for member in members if member.get("auth_enabled")]
    unknown = [member["host"] for member in members if "auth_enabled" in member and member["auth_enabled"] is None]
    into = AUTH_BLOCKS_ROLLING_INTO.since
    # Either way across: rolling a stopped hop back to 3.4 mixes the versions just the same.
    crossing = [hop for hop in hops if hop["action"] in ("upgrade", "downgrade")
                and min(minor(parse_version(hop["from"])), minor(parse_version(hop["version"]))) < into
                <= max(minor(parse_version(hop["from"])), minor(parse_version(hop["version"])))]
    if not crossing:
        return
    if unknown:
        errors.append("%s: whether auth is enabled could not be read from the data (etcd_datadir_info, read live), "
                      "and the hop to %s may not roll with auth on: run again (a live read can meet a write)"
                      % (", ".join(unknown), crossing[0]["version"]))
        return
    if not with_auth:
        return
    if not settings.get("cluster_restart_allowed"):
        errors.append("%s: auth is enabled, and etcd does not support rolling from 3.4 to 3.5 with auth on (3.5 "
                      "hashes passwords before raft: a user added or a password changed through a 3.5 member while "
                      "3.4 members run gets another password on those). The way through with auth kept on: every "
                      "member stopped, then all started on %s together, a cluster outage of about one restart: "
                      "-e etcd_rolling_allow_cluster_restart=true (or disable auth for the hop: etcdctl auth disable)"
                      % (", ".join(with_auth), crossing[0]["version"]))
        return
    forks = settings.get("forks")
    if forks is not None and int(forks) < len(members):
        errors.append("the hop to %s starts every member at once, and Ansible runs %s hosts at a time, fewer than the "
                      "%d members (the first ones would wait for a quorum that is not started): run with --forks %d "
                      "or more" % (crossing[0]["version"], forks, len(members), len(members)))
        return
    for hop in crossing:
        hop["together"] = True
        warnings.append("auth is enabled (%s): the hop to %s stops every member, then starts them all on it together: "
                        "the cluster serves nothing from the first stop until a quorum runs %s (about one restart)"
                        % (", ".join(with_auth), hop["version"], hop["version"]))


def _root_gate(hops, members, settings, errors):
    """With auth on, the hops call etcd as its root user: without a password they would stop half-way."""
    with_auth = [member["host"] for member in members if member.get("auth_enabled")]
    if not hops or not with_auth or settings.get("root_password_given"):
        return
    needs = ["a snapshot before each hop (snapshot save)", "handing leadership away (move-leader)"]
    if any(hop["action"] == "downgrade" for hop in hops):
        needs.append("the downgrade (downgrade validate/enable)")
    errors.append("%s: auth is enabled, and the rolling change calls etcd as its root user for %s, and from 3.5 for "
                  "every status and health read: give that user's password as etcd_root_password (and its name as "
                  "etcd_root_user when it is not root), from a vault" % (", ".join(with_auth), ", ".join(needs)))


def _offline_hop(hops, members, settings, errors, warnings):
    """The offline downgrade stated before anything stops: the whole cluster is down for it, and the snapshot is
    taken while it serves. It is restore.yml's work, which knows one cluster per run."""
    for hop in hops:
        if hop["action"] != "offline":
            continue
        adopted = [member["host"] for member in members if member.get("adopted_sources")]
        if adopted:
            errors.append("the offline downgrade to %s restores members the server role configured (restore.yml "
                          "reads their etcd.conf.yml), and %s run under a unit of their own (etcd_adopt_service): "
                          "install them with site.yml first, or restore them by hand"
                          % (hop["version"], ", ".join(adopted)))
        if int(settings.get("clusters") or 1) > 1:
            errors.append("the offline downgrade to %s restores one cluster per run, and this run has %s: run it "
                          "for this cluster alone (-e etcd_cluster_group=NAME)" % (hop["version"], settings["clusters"]))
        warnings.append(
            "offline downgrade %s -> %s: a snapshot is taken, then every member (%s) is stopped and restored from it "
            "with etcd %s's tool. The cluster serves nothing from the first stop until every member is healthy on %s "
            "(about one restart plus a rename of each data dir), and writes after the snapshot are lost: stop the "
            "clients' writes first. Every key, revision and lease of the snapshot is kept (a lease's TTL starts "
            "again); the old data dirs are kept aside." % (hop["from"], hop["version"],
                                                           ", ".join(m["host"] for m in members), hop["version"],
                                                           hop["version"]))


def _adopted_gates(hops, members, errors, warnings):
    """What a member the collection did not install gives etcd that a hop cannot run with.

    Its settings stay the operator's (a hop replaces only the binary its unit runs): a flag a hop's version removed,
    or a value it refuses (``logger=capnslog`` from 3.5), stops that version from starting; a removed variable or
    configuration key is only ignored (a warning says so); a setting given as a flag and a variable, which 3.3 runs
    with, stops 3.4 and later; ``ETCD_CONFIG_FILE``, which 3.3 ignores, 3.4 and later read. Snapshot-count 1, which
    a hop followed by another sets in an environment file the unit reads last, reaches neither a member on a
    configuration file (which replaces the environment) nor one given the count as a flag (given twice).
    """
    for member in members:
        sources = member.get("adopted_sources")
        if not sources:
            continue
        settings = member.get("adopted_settings") or {}
        host, service = member["host"], member.get("adopted_service")
        on_config_file = any(source.startswith("configuration file") for source in sources.values())
        for hop in hops:
            reached = parse_version(hop["version"])
            for key in compat.removed_settings(reached, settings):
                source = sources.get(key, "")
                if source.startswith("flag") or key in [name for _since, name, _value in compat.VALUES_REMOVED]:
                    errors.append("%s: etcd %s refuses %s=%s, from the %s of %s (it would not start): remove it "
                                  "before this change" % (host, hop["version"], key, settings.get(key), source, service))
                else:
                    warnings.append("%s: etcd %s ignores %s, from %s: it no longer applies" % (
                        host, hop["version"], key, source))
            if minor(reached) >= (3, 4):
                for key in sorted(key for key, source in sources.items() if source.startswith("flag and ")):
                    errors.append("%s: %s gives %s both as a flag and as %s, which etcd %s refuses (3.3 took the "
                                  "flag): remove one before this change" % (host, service, key,
                                                                            sources[key][len("flag and "):],
                                                                            hop["version"]))
                if sources.get("config-file", "").startswith("environment"):
                    errors.append("%s: %s sets ETCD_CONFIG_FILE, which 3.3 ignores and etcd %s reads: the member "
                                  "would start on other settings; remove it (or pass --config-file) before this "
                                  "change" % (host, service, hop["version"]))
            count_source = sources.get("snapshot-count", "")
            if hop["snapshot_count"] == 1 and (on_config_file or count_source.startswith("flag")):
                errors.append("%s: the hop to %s runs the member with snapshot-count 1 (so that the next minor "
                              "starts past older WAL entries), from an environment file that %s reads last; its "
                              "settings come from %s, which that cannot reach: give snapshot-count in the unit's "
                              "EnvironmentFile (not as a flag or in a configuration file) for this change"
                              % (host, hop["version"], service,
                                 "a configuration file" if on_config_file else "the command line"))


def _whole_cluster(members, ids, errors):
    """The members in the run must be the whole cluster as etcd lists it: a part of it (an inventory that misses a
    member, --limit) would pass every other check and leave the rest on the old version."""
    listed = {}
    for member in members:
        for entry in member.get("cluster_members") or []:
            listed[entry.get("id")] = entry.get("name") or "(unstarted)"
    missing = sorted(name for member_id, name in listed.items() if member_id not in ids)
    if missing:
        errors.append("the cluster's member list has %s, which this run does not reach: every member of the cluster "
                      "must be in the inventory group (and no --limit)" % ", ".join(missing))


def rolling_preflight(members, target, available, settings=None):
    """Everything decided before a rolling change touches a member.

    ``members``: one dict per member as it reports itself: ``host``, ``id``,
    ``leader`` (the leader's ID it sees), ``version``, ``healthy``,
    ``db_size``, ``free_bytes`` (free space where snapshots go),
    ``ready_for_next`` and ``auth_enabled`` (etcd_datadir_info's, read live;
    None when unreadable), ``cluster_members`` (``member list``: id, name), ``learner``
    (its status' ``isLearner``) and, for a
    member the collection did not install, ``adopted_sources`` (each setting's source,
    etcd_member_settings's) and ``adopted_service`` (its unit).
    ``settings``: ``enable_v2``, ``extra_config`` and ``snapshot_count`` of the
    server role, ``root_password_given`` (etcd_root_password is not empty),
    ``cluster_restart_allowed`` (a hop may stop every member at once),
    ``forks`` (hosts Ansible runs at once, for such a hop),
    ``offline_downgrade_allowed`` (one minor down below 3.6 may restore every
    member from a snapshot) and ``clusters`` (how many the run changes).

    Returns ``hops`` (each with ``version``, ``action`` (upgrade, downgrade,
    snapshot: a restart with snapshot-count 1, or offline: every member
    restored from a snapshot onto the version), ``from``, ``minor``,
    ``check_v2store``, ``together`` (every member stopped, then all started:
    3.4 -> 3.5 with auth on), and the server role's ``snapshot_count`` and
    ``rejected_settings`` (keys left out of the configuration) for it),
    ``order`` (hosts, the leader last), ``warnings``, ``dropped_settings``
    and ``errors`` (empty when the change may start).
    """
    settings = settings or {}
    errors, warnings = [], []
    for member in members:
        if not member.get("healthy"):
            errors.append("%s is not healthy: fix it (etcdctl endpoint health) before a rolling change"
                          % member["host"])
        # A learner cannot lead, so leadership cannot move to it; and a membership change half done is the
        # membership role's to finish.
        if member.get("learner"):
            errors.append("%s is a learner (added, not promoted): promote it once it has caught up (etcdctl member "
                          "promote %x) or remove it, before a rolling change" % (member["host"], int(member["id"])))
        need = FREE_DISK_FACTOR * int(member.get("db_size") or 0)
        if int(member.get("free_bytes") or 0) < need:
            errors.append("%s has %s bytes free where snapshots go, less than %d x its db (%s bytes): free disk space"
                          % (member["host"], member.get("free_bytes"), FREE_DISK_FACTOR, member.get("db_size")))
    ids = [member.get("id") for member in members]
    _whole_cluster(members, ids, errors)
    leaders = {member.get("leader") for member in members}
    if len(leaders) != 1 or next(iter(leaders)) not in ids:
        errors.append("the members do not agree on a leader among them (%s): wait for the election to settle, "
                      "and check that the inventory group holds exactly this cluster's members"
                      % ", ".join("%s sees %s" % (m["host"], m.get("leader")) for m in members))
    hops = []
    try:
        hops, plan_warnings = plan_hops([member.get("version") for member in members], target, available,
                                        settings.get("offline_downgrade_allowed"))
        warnings.extend(plan_warnings)
        _annotate(hops, [member["version"] for member in members])
        dropped = _dropped_on_the_way(hops, settings)
        _v2_gates(hops, members, errors, warnings)
        _auth_hop(hops, members, settings, errors, warnings)
        _configure(hops, settings)
        _adopted_gates(hops, members, errors, warnings)
        _root_gate(hops, members, settings, errors)
        _offline_hop(hops, members, settings, errors, warnings)
    except MigrationError as exc:
        errors.append(str(exc))
        dropped = []
    leader = next(iter(leaders)) if len(leaders) == 1 else None
    order = ([m["host"] for m in members if m.get("id") != leader] +
             [m["host"] for m in members if m.get("id") == leader])
    return {"hops": hops, "order": order, "warnings": warnings, "dropped_settings": dropped, "errors": errors}


def rolling_summary(members):
    """One entry per cluster from what each member of a rolling run noted (the rolling role's facts).

    ``members``: the variables (hostvars) of every host the run was given: its
    name ``inventory_hostname``, its cluster ``etcd_cluster_group`` (default
    ``etcd``), and, once it planned, ``etcd_rolling_plan`` (its cluster's
    pre-flight result) and what it noted: ``etcd_rolling_stages``,
    ``etcd_rolling_downtime``, ``etcd_rolling_snapshots`` and
    ``etcd_rolling_done`` (it went through every hop).  A cluster is
    ``refused`` when its plan had errors or no member planned (one did not
    report), ``done`` when every member went through, else ``failed`` (the
    members not through are named).
    """
    clusters = {}
    for member in sorted(members, key=lambda m: m["inventory_hostname"]):
        plan = member.get("etcd_rolling_plan")
        cluster = plan["cluster"] if plan else member.get("etcd_cluster_group") or "etcd"
        entry = clusters.setdefault(cluster, {"planned": None, "errors": [], "stages": [], "downtime": [],
                                              "snapshots": [], "not_through": []})
        if not plan:
            entry["not_through"].append(member["inventory_hostname"])
            continue
        if entry["planned"] is None:
            entry["planned"] = ["%s %s" % (hop["action"], hop["version"]) for hop in plan["hops"]]
            entry["errors"] = list(plan["errors"])
        for noted in ("stages", "downtime", "snapshots"):
            entry[noted].extend(member.get("etcd_rolling_" + noted) or [])
        if not member.get("etcd_rolling_done"):
            entry["not_through"].append(member["inventory_hostname"])
    for entry in clusters.values():
        if entry["planned"] is None:
            entry["errors"] = ["%s did not report: nothing was planned or changed" % ", ".join(entry["not_through"])]
            entry["planned"] = []
        entry["result"] = "refused" if entry["errors"] else "failed" if entry["not_through"] else "done"
    return clusters
