# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""One membership change of a running cluster (add, remove or replace a member), decided from what it reports.

Pure: the membership role reads ``member list``, ``endpoint health --cluster`` and ``endpoint status
--cluster`` through a running member and passes their JSON here.  Every problem found is one entry of
``errors`` (all shown at once); nothing is decided to change while there is one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ACTIONS = ("add", "remove", "replace")
# etcd adds a member as a non-voting learner from 3.4 (member add --learner, member promote).
LEARNER_SINCE = (3, 4)


def quorum(voters):
    """Members that must agree for a cluster of ``voters`` voting members to commit anything."""
    return voters // 2 + 1


def member_id(member):
    """etcdctl's hexadecimal form of a member ID (member remove/promote, move-leader take it)."""
    return "%x" % int(member["ID"])


def _minor(version):
    return tuple(int(part) for part in str(version).split(".")[:2])


def _find(members, name, peer_url=""):
    for member in members:
        if (name and member.get("name") == name) or (peer_url and peer_url in member.get("peerURLs", [])):
            return member
    return None


def _initial_cluster(members, leaving, name, peer_url):
    """etcd's initial-cluster for a joining member: the members etcd knows (names and peer URLs), and itself."""
    pairs = ["%s=%s" % (m["name"], url) for m in members if m is not leaving and m.get("name") and m["name"] != name
             for url in m.get("peerURLs", [])]
    return ",".join(pairs + ["%s=%s" % (name, peer_url)])


def membership_change(action, target, members, health, statuses, replaces=""):
    """The decision for ``action`` on ``target`` ({"name", "peer_url", "version"}; only "name" for remove).

    ``members`` is ``member list -w json``'s members, ``health`` ``endpoint health --cluster -w json``'s entries,
    ``statuses`` ``endpoint status --cluster -w json``'s (members that did not answer are missing from both or
    unhealthy).  ``replaces``: the name of the dead member a replace removes (default the target's name).

    Returns {"errors", "remove", "move_leader", "add", "initial_cluster", "changes", "voters_before",
    "voters_after"}: ``remove`` is the member to remove ({"id", "name", "client_urls"}) or None, ``move_leader`` the ID of the
    member to hand leadership to first (the removed one leads) or "", ``add`` ({"name", "peer_url", "added"},
    "added" when an earlier run already added it as a learner) or None, ``changes`` what will change, in words.
    """
    decision = {"errors": [], "remove": None, "move_leader": "", "add": None, "initial_cluster": "", "changes": [],
                "voters_before": 0, "voters_after": 0}
    errors = decision["errors"]
    if action not in ACTIONS:
        errors.append("etcd_member_action is %r: give one of %s (-e etcd_member_action=add)"
                      % (action, ", ".join(ACTIONS)))
        return decision
    name = target["name"]
    peer_url = target.get("peer_url", "")
    healthy_urls = {entry["endpoint"] for entry in health if entry.get("health")}
    leaders = {int(entry["Status"]["leader"]) for entry in statuses}
    versions = sorted({entry["Status"]["version"] for entry in statuses})

    def healthy(member):
        return bool(healthy_urls.intersection(member.get("clientURLs", [])))

    def label(member):
        return "%s (%s)" % (member.get("name") or "not started", member_id(member))

    voters = [m for m in members if not m.get("isLearner")]
    leaving = _find(members, replaces or name) if action in ("remove", "replace") else None
    joining = None
    if action in ("add", "replace"):
        joining = _find([m for m in members if m is not leaving], name, peer_url)
        if joining is not None and joining.get("name") and joining.get("name") != name:
            errors.append("the peer URL %s of %s is member %s's: give %s its own address (etcd_listen_address)"
                          % (peer_url, name, label(joining), name))
            return decision
        if joining is not None and peer_url not in joining.get("peerURLs", []):
            errors.append("member %s already runs with peer URLs %s, not %s: replace it with "
                          "-e etcd_member_action=replace, or remove it first"
                          % (label(joining), ", ".join(joining.get("peerURLs", [])), peer_url))
            return decision

    if action == "replace" and leaving is not None and healthy(leaving):
        errors.append("member %s is healthy: replace is for a member whose host is gone. Remove it "
                      "(-e etcd_member_action=remove) and add the new host instead, or stop it first"
                      % label(leaving))
    # One change at a time: a learner left by an add must be promoted (or removed) before anything else.
    for learner in members:
        if learner.get("isLearner") and learner is not joining and learner is not leaving:
            errors.append("member %s is a learner not promoted yet: finish its add (etcdctl member promote %s), or "
                          "remove it, before another change" % (label(learner), member_id(learner)))
    for member in voters:
        if member is not leaving and not healthy(member):
            errors.append("member %s is not healthy: every member but the one %s must be healthy before a "
                          "membership change" % (label(member), "replaced" if action == "replace" else "changed"))

    before = len(voters)
    after = before
    if leaving is not None and not leaving.get("isLearner"):
        after -= 1
        up = len([m for m in voters if healthy(m)])
        if up < quorum(before):
            errors.append("removing %s needs %d of the %d voting members healthy to commit, %d are: the cluster has "
                          "lost its quorum; restore it from a snapshot (playbooks/restore.yml)"
                          % (label(leaving), quorum(before), before, up))
        if after == 0:
            errors.append("%s is the last member: a cluster cannot remove its last member" % label(leaving))
    if action in ("add", "replace") and not (joining is not None and not joining.get("isLearner")):
        after += 1
        if versions != [str(target.get("version", ""))]:
            errors.append("the members run etcd %s and %s would run %s: a new member joins on the cluster's version; "
                          "set etcd_version to %s for it (change the cluster's version afterwards with "
                          "playbooks/upgrade.yml)" % (", ".join(versions) or "(no answer)", name,
                                                      target.get("version"), versions[0] if versions else "it"))
        elif _minor(versions[0]) < LEARNER_SINCE:
            errors.append("the members run etcd %s: members join as learners from 3.4; upgrade the cluster first "
                          "(playbooks/upgrade.yml)" % versions[0])
    decision["voters_before"], decision["voters_after"] = before, after
    if errors:
        return decision

    if leaving is not None:
        decision["remove"] = {"id": member_id(leaving), "name": leaving.get("name", ""),
                              "client_urls": leaving.get("clientURLs", [])}
        # Only a running leader hands over (move-leader goes to it); a dead one's followers elect another.
        if healthy(leaving) and int(leaving["ID"]) in leaders:
            successor = next(m for m in voters if m is not leaving and healthy(m))
            decision["move_leader"] = member_id(successor)
            decision["changes"].append("move leadership from %s to %s" % (label(leaving), label(successor)))
        decision["changes"].append("remove member %s" % label(leaving))
    elif action == "remove":
        decision["changes"].append("nothing: %s is not a member" % name)
    if action in ("add", "replace"):
        if joining is not None and not joining.get("isLearner"):
            decision["changes"].append("nothing: %s is a voting member" % label(joining))
        else:
            decision["add"] = {"name": name, "peer_url": peer_url, "added": joining is not None}
            decision["initial_cluster"] = _initial_cluster(members, leaving, name, peer_url)
            if joining is None:
                decision["changes"].append("add %s as a learner with peer URL %s" % (name, peer_url))
            decision["changes"].append("start %s, promote it once in sync (%d voting members)" % (name, after))
    return decision
