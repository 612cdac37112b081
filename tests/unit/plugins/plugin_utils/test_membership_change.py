"""One membership change of a running cluster: pure decisions from what the members report."""

from ansible_collections.etcdops.etcd.plugins.plugin_utils.membership_change import membership_change, quorum


def member(number, learner=False, started=True):
    entry = {"ID": number, "peerURLs": ["http://10.0.0.%d:2380" % number]}
    if started:
        entry.update(name="etcd-%d" % number, clientURLs=["http://10.0.0.%d:2379" % number])
    if learner:
        entry["isLearner"] = True
    return entry


def report(numbers, down=(), leader=1, version="3.6.16", learners=()):
    members = [member(n, learner=n in learners) for n in numbers]
    health = [{"endpoint": "http://10.0.0.%d:2379" % n, "health": n not in down and n not in learners}
              for n in numbers]
    statuses = [{"Status": {"leader": leader, "version": version}} for n in numbers if n not in down]
    return members, health, statuses


def new(number, version="3.6.16"):
    return {"name": "etcd-%d" % number, "peer_url": "http://10.0.0.%d:2380" % number, "version": version}


def test_quorum_is_a_majority():
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_add_lists_the_running_members_and_itself():
    decision = membership_change("add", new(4), *report([1, 2, 3]))
    assert decision["errors"] == []
    assert decision["add"] == {"name": "etcd-4", "peer_url": "http://10.0.0.4:2380", "added": False}
    assert decision["remove"] is None
    assert decision["initial_cluster"] == ("etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380,"
                                           "etcd-3=http://10.0.0.3:2380,etcd-4=http://10.0.0.4:2380")
    assert (decision["voters_before"], decision["voters_after"]) == (3, 4)


def test_add_resumes_a_learner_added_earlier_and_does_nothing_for_a_voter():
    members, health, statuses = report([1, 2, 3])
    unstarted = member(4, learner=True, started=False)
    resumed = membership_change("add", new(4), members + [unstarted], health, statuses)
    assert resumed["errors"] == []
    assert resumed["add"]["added"] is True
    assert resumed["initial_cluster"].endswith(",etcd-4=http://10.0.0.4:2380")
    done = membership_change("add", new(3), members, health, statuses)
    assert done["errors"] == [] and done["add"] is None and done["changes"] == ["nothing: etcd-3 (3) is a voting member"]


def test_add_refused_while_a_member_is_down_or_another_learner_waits():
    decision = membership_change("add", new(5), *report([1, 2, 3, 4], down=[2], learners=[4]))
    assert decision["add"] is None
    assert len(decision["errors"]) == 2
    assert "etcd-4 (4) is a learner not promoted yet" in decision["errors"][0]
    assert "member promote 4" in decision["errors"][0]
    assert "etcd-2 (2) is not healthy" in decision["errors"][1]


def test_add_refused_on_another_version_or_before_learners():
    other = membership_change("add", new(4, version="3.7.3"), *report([1, 2, 3]))
    assert "set etcd_version to 3.6.16" in other["errors"][0]
    old = membership_change("add", new(4, version="3.3.25"), *report([1, 2, 3], version="3.3.25"))
    assert "join as learners from 3.4" in old["errors"][0]


def test_add_refused_when_the_name_runs_elsewhere_or_the_address_is_taken():
    moved = dict(new(3), peer_url="http://10.0.0.9:2380")
    assert "replace it with -e etcd_member_action=replace" in membership_change("add", moved, *report([1, 2, 3]))["errors"][0]
    taken = dict(new(4), peer_url="http://10.0.0.3:2380")
    assert "is member etcd-3 (3)'s" in membership_change("add", taken, *report([1, 2, 3]))["errors"][0]


def test_remove_moves_leadership_away_first():
    decision = membership_change("remove", {"name": "etcd-1"}, *report([1, 2, 3], leader=1))
    assert decision["errors"] == []
    assert decision["remove"] == {"id": "1", "name": "etcd-1", "client_urls": ["http://10.0.0.1:2379"]}
    assert decision["move_leader"] == "2"
    assert decision["add"] is None
    assert (decision["voters_before"], decision["voters_after"]) == (3, 2)
    follower = membership_change("remove", {"name": "etcd-3"}, *report([1, 2, 3], leader=1))
    assert follower["move_leader"] == "" and follower["changes"] == ["remove member etcd-3 (3)"]


def test_remove_of_a_dead_member_needs_the_others_to_hold_quorum():
    dead = membership_change("remove", {"name": "etcd-3"}, *report([1, 2, 3], down=[3]))
    assert dead["errors"] == [] and dead["remove"]["id"] == "3"
    lost = membership_change("remove", {"name": "etcd-2"}, *report([1, 2], down=[2]))
    assert "needs 2 of the 2 voting members healthy to commit, 1 are" in lost["errors"][0]
    other_down = membership_change("remove", {"name": "etcd-3"}, *report([1, 2, 3], down=[2]))
    assert "etcd-2 (2) is not healthy" in other_down["errors"][0]


def test_remove_refuses_the_last_member_and_does_nothing_for_a_stranger():
    assert "last member" in membership_change("remove", {"name": "etcd-1"}, *report([1]))["errors"][0]
    gone = membership_change("remove", {"name": "etcd-7"}, *report([1, 2, 3]))
    assert gone["errors"] == [] and gone["remove"] is None and gone["changes"] == ["nothing: etcd-7 is not a member"]


def test_replace_removes_the_dead_member_and_adds_the_new_host():
    decision = membership_change("replace", dict(new(3), peer_url="http://10.0.0.30:2380"),
                                 *report([1, 2, 3], down=[3], leader=3))
    assert decision["errors"] == []
    assert decision["remove"]["id"] == "3" and decision["remove"]["name"] == "etcd-3"
    assert decision["move_leader"] == ""  # a dead member hands nothing over
    assert decision["initial_cluster"] == ("etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380,"
                                           "etcd-3=http://10.0.0.30:2380")
    assert (decision["voters_before"], decision["voters_after"]) == (3, 3)


def test_replace_by_another_host_and_refusals():
    spare = membership_change("replace", new(4), *report([1, 2, 3], down=[2]), replaces="etcd-2")
    assert spare["errors"] == [] and spare["remove"]["name"] == "etcd-2" and spare["add"]["name"] == "etcd-4"
    alive = membership_change("replace", new(3), *report([1, 2, 3]))
    assert "etcd-3 (3) is healthy: replace is for a member whose host is gone" in alive["errors"][0]
    two_down = membership_change("replace", new(3), *report([1, 2, 3], down=[2, 3]))
    assert any("lost its quorum" in error for error in two_down["errors"])
    assert two_down["remove"] is None and two_down["add"] is None


def test_unknown_action_names_the_choices():
    assert "give one of add, remove, replace" in membership_change("grow", new(4), *report([1]))["errors"][0]
