# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Switch a running cluster's member to other binaries in one action on its host.

Everything that can be prepared with the member running is prepared by the caller: the binaries installed, the
next configuration and unit rendered beside the live ones (``<dest>.next``). The switch then, with the member
still serving, hands leadership over if it leads, swaps the prepared files in (``os.replace``: each file is either
the old or the new one, never half written) and has systemd read a new unit (a running service keeps its process;
the new unit counts from its next start); then it stops the service, records the version in ``version.txt``,
starts the service, polls the member's health every ``poll_interval`` seconds and waits until it holds the
leader's log. The member is out for etcd's stop and start plus milliseconds. With a check to run on the stopped
data (``etcdutl check v2store`` before 3.6) the files go in after the check, the member stopped: systemd never
holds the new unit before the check has passed, so no restart in between (by systemd, or by hand after a killed
run) starts the new version unchecked.

The data is the cluster's: the switch never writes it (only ``version.txt``). If the check, the start or the
health wait fails, the same action puts the previous files and ``version.txt`` back, starts the previous version
and waits for it, then reports the failure: the member serves as before. A failure before the stop (the swap, the
reload, the stop itself) puts the previous files back with the member still serving.

Everything that can fail without an outage is done before the stop: the checks (``problems``: prepared files
present and on the live files' filesystem, live files present and not symlinked, what an interrupted switch
left decided, owner and group known) and the copies of the live files for the way back. Any error after the stop, of
any kind, takes the way back; a way back that cannot stop the new version or start the old one says so.

Invariant for a crash (the whole process tree killed) at any moment: every file the switch writes is whole (old
or new); ``<data_dir>/version.txt.previous`` (the marker: a switch is under way, as JSON its ``target`` version, the
``previous`` version record to go back to and its ``direction``, ``forward`` until the way back begins, then
``back``) exists from before the first copy until the last copy is dropped; each live file's previous content is in
``<dest>.previous`` from before the swap until the switch (or its way back) has ended; the data dir is untouched
but for version.txt and its marker; systemd has read the unit before ``version.txt`` names a new version, and with
a check, not before the check passed. The member may be left stopped. Files going back before the stop turn the
marker to ``back`` first.

The next run decides from the disk how to converge (``recovery``), comparing each live file with its ``.previous``
and with its prepared file (the prepared file is moved in by the swap, so a missing one was swapped; a live file
equal to its copy whose prepared file is gone or equal too had the same content on both sides and decides
nothing):

=========================================================  ================================================
what the marker, the copies and version.txt say            the run
=========================================================  ================================================
no marker, no copy                                         the switch, normally
copies without the marker (not this switch's order)        refused: compare, keep, delete, run again
a marker for another target version, or unreadable         refused: finish that switch first
a live file neither its copy nor its prepared file         refused: compare the three
version.txt neither the marker's record nor the new one    refused: something else wrote it
direction back, copies left                                the way back had begun: back
nothing swapped, version.txt the marker's record           before the swap: the switch, normally
direction forward, some files swapped or version.txt new,  during or after the swap: forward (swap the rest,
every unswapped one still prepared                         reload, stop, check, record, start, wait; the way
                                                           back if not healthy)
direction forward, an unswapped one's prepared file gone   refused: something else removed it
=========================================================  ================================================

Forward restarts the member (it may run the old version, or the new one unconfirmed) and runs the check only while
version.txt still names the previous version (it is written before the new version's start; after, the new version
may have opened the data). Back puts every copy in place, records the marker's version, starts it and fails with the reason.
A copy dropped after the new version served cannot be put back: a way back that needs one says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import filecmp
import grp
import json
import os
import pwd
import shutil
import time

from ansible_collections.etcdops.etcd.plugins.module_utils.datadir import SWITCH_MARKER, VERSION_FILE
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import clean_environment

PREVIOUS = ".previous"
# The marker's direction: the switch goes to its target, or its way back has begun.
TOWARDS_TARGET, WAY_BACK = "forward", "back"
# How a run converges from what an interrupted switch left (``MemberSwitch.recovery``).
BEFORE, FORWARD, BACK, REFUSE = "before", "forward", "back", "refuse"
# What each plan does, done and (check mode) to be done.
CONVERGING = {BEFORE: ("switched normally", "would switch normally"),
              FORWARD: ("finished forward", "would finish forward"),
              BACK: ("went back", "would go back")}
# Test-only: "<point>:<file>" makes the switch create <file> at that named point and wait there to be killed, so a
# kill test chooses its moment without sleeping.
PAUSE_AT = "ETCDOPS_SWITCH_PAUSE_AT"


class SwitchFailed(Exception):
    """The switch did not take; ``rolled_back`` says whether the previous version serves again."""

    def __init__(self, msg, rolled_back, result):
        super(SwitchFailed, self).__init__(msg)
        self.rolled_back = rolled_back
        self.result = result


class ClientAccess:
    """How the collection reaches a member as a client: endpoint, TLS files and user, as etcdctl's environment."""

    def __init__(self, etcdctl, endpoint, ca_file=None, cert_file=None, key_file=None, user=None, password=None):
        self.etcdctl = etcdctl
        self.endpoint = endpoint
        self.settings = dict(ETCDCTL_API="3", ETCDCTL_ENDPOINTS=endpoint)
        for name, value in (("ETCDCTL_CACERT", ca_file), ("ETCDCTL_CERT", cert_file), ("ETCDCTL_KEY", key_file)):
            if value:
                self.settings[name] = value
        if user:
            self.settings["ETCDCTL_USER"] = "%s:%s" % (user, password or "")

    def environment(self):
        """The caller's environment without its ETCDCTL_* (an inherited one must not redirect the check)."""
        return clean_environment(**self.settings)


class MemberSwitch:
    """One member's switch. ``run(argv, environ=None)`` returns (rc, stdout, stderr); ``clock`` is monotonic."""

    def __init__(self, run, service, data_dir, version, files, access, timeout, poll_interval,
                 check_command=None, check_advice="", owner=None, group=None, clock=time.monotonic,
                 sleep=time.sleep, systemctl="systemctl", journalctl="journalctl", leader_transferee=None,
                 max_lag=None):
        self.run = run
        self.service = service
        self.version_file = os.path.join(data_dir, VERSION_FILE)
        self.marker = os.path.join(data_dir, SWITCH_MARKER)
        self.version = version
        self.files = files
        self.access = access
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.check_command = check_command or []
        self.check_advice = check_advice
        self.owner, self.group = owner, group
        self.clock, self.sleep = clock, sleep
        self.systemctl, self.journalctl = systemctl, journalctl
        self.leader_transferee, self.max_lag = leader_transferee, max_lag
        self.stopped_at = None
        self.result = dict(version=version, files=[f["dest"] for f in files], rolled_back=False, phases={})
        self.pause_at = os.environ.get(PAUSE_AT, "")

    # -- what the switch needs before it stops anything -------------------------------------------------------------

    def recovery(self):
        """How to converge from what an interrupted switch left on disk: (plan, what was found); (None, "") when
        nothing was left. A REFUSE plan's text names the files and the fix."""
        copies = [item for item in self.files if os.path.lexists(item["dest"] + PREVIOUS)]
        if not os.path.lexists(self.marker):
            if not copies:
                return None, ""
            return REFUSE, ("%s left without %s, so not by this switch: compare each with its live file, keep the "
                            "one the member should run, delete the copies, then run again"
                            % (_names(copies, PREVIOUS), self.marker))
        marker = self.read_marker()
        if marker is None:
            return REFUSE, ("%s is not a switch's marker (JSON with target, previous and direction): compare the live "
                            "files with their copies %s, keep the ones the member should run, delete the copies and "
                            "the marker, then run again" % (self.marker, _names(copies, PREVIOUS) or "(none)"))
        if marker["target"] != self.version:
            target = marker["target"]
            return REFUSE, ("%s says a switch to %s was interrupted, not one to %s: run the switch to %s again to "
                            "finish it (or go back), then this one" % (self.marker, target, self.version, target))
        previous_record, record = marker["previous"], self.previous_version()
        swapped, unswapped = [], []
        for item in copies:
            dest, src = item["dest"], item["src"]
            if not os.path.isfile(dest):
                return REFUSE, ("the live file %s is missing, its previous content in %s: put the one the member "
                                "should run there, delete %s, then run again" % (dest, dest + PREVIOUS, self.marker))
            if filecmp.cmp(dest, dest + PREVIOUS, shallow=False):
                if os.path.exists(src) and not filecmp.cmp(dest, src, shallow=False):
                    unswapped.append(item)
                # else the same content before and after: it decides nothing
            elif not os.path.exists(src) or filecmp.cmp(dest, src, shallow=False):
                swapped.append(item)
            else:
                return REFUSE, ("%s is neither its previous content %s nor the prepared %s: compare the three, keep "
                                "the one the member should run as %s, delete %s and %s, then run again"
                                % (dest, dest + PREVIOUS, src, dest, dest + PREVIOUS, self.marker))
        new_record = self.version + "/etcd3"
        if record not in (previous_record, new_record):
            return REFUSE, ("%s names %r, neither %r (before the interrupted switch, in %s) nor %r: write the "
                            "version the member runs there, delete %s and the copies %s, then run again"
                            % (self.version_file, record, previous_record, self.marker, new_record, self.marker,
                               _names(copies, PREVIOUS) or "(none)"))
        if marker["direction"] == WAY_BACK and copies:
            return BACK, ("a switch to %s was interrupted on its way back to %s"
                          % (self.version, previous_record.split("/")[0] or "the previous version"))
        if not swapped and record == previous_record:
            return BEFORE, "a switch to %s was interrupted before the swap" % self.version
        if swapped:
            return FORWARD, "a switch to %s was interrupted after swapping %s" % (self.version, _names(swapped))
        if copies:
            return FORWARD, "a switch to %s was interrupted after recording it" % self.version
        return FORWARD, "a switch to %s was interrupted while dropping its copies" % self.version

    def problems(self, check_mode=False, plan=None):
        """What makes the switch impossible or unsafe, found before anything stops (check mode: no prepared files).

        ``plan`` is ``recovery()``'s: converging forward needs only the prepared files not yet swapped, back none.
        """
        found = []
        for item in self.files:
            src, dest = item["src"], item["dest"]
            if os.path.islink(dest):
                found.append("%s is a symlink: give the file it points to as dest, so the switch and its way back "
                             "replace that file" % dest)
            elif not os.path.isfile(dest):
                found.append("the live file %s is missing: the switch replaces a file the member runs with" % dest)
            if check_mode or plan in (FORWARD, BACK, REFUSE) and not os.path.exists(src):
                continue
            if not os.path.isfile(src):
                found.append("the prepared file %s is missing: render it before the switch" % src)
            elif os.stat(src).st_dev != os.stat(os.path.dirname(dest) or ".").st_dev:
                found.append("%s is not on the filesystem of %s: it cannot replace it atomically" % (src, dest))
        try:
            _owner_ids(self.owner, self.group)
        except KeyError as error:
            found.append("no such user or group %s on the host" % error)
        return found

    def read_marker(self):
        """The marker's {target, previous, direction}, or None when it is not one."""
        try:
            marker = json.loads(_read(self.marker))
        except ValueError:
            return None
        if not isinstance(marker, dict) or marker.get("direction") not in (TOWARDS_TARGET, WAY_BACK) \
                or not all(isinstance(marker.get(key), str) for key in ("target", "previous")):
            return None
        return marker

    def _write_marker(self, previous_record, direction):
        self._write(self.marker, json.dumps(dict(target=self.version, previous=previous_record, direction=direction)))

    def previous_version(self):
        try:
            with open(self.version_file) as handle:
                return handle.read().strip()
        except (IOError, OSError):
            return ""

    # -- the switch ------------------------------------------------------------------------------------------------

    def switch(self, plan=None):
        """Swap, reload, stop, check, record, start, wait; on any failure after the stop, the way back (raises).

        Without a check, the prepared files go in, and systemd reads a new unit, while the member still runs (a
        running service keeps its process; the new files count from its next start): the member is out only from
        the stop until it answers. With a check they go in after it, the member stopped: systemd never holds the
        new unit before the check has passed (a restart by systemd or by hand in between would start the new version
        unchecked). ``plan`` FORWARD or BACK (``recovery()``) converges from an interrupted switch, whose copies are
        kept.
        """
        recovering = plan in (FORWARD, BACK)
        previous_record = self.read_marker()["previous"] if recovering else self.previous_version()
        self.result["previous_version"] = previous_record.split("/")[0]
        self.hand_over_leadership(must_answer=plan is None)
        if not recovering:
            # The marker first (and dropped last), then the copies for the way back.
            self._write_marker(previous_record, TOWARDS_TARGET)
            for item in self.files:
                _copy_atomically(item["dest"], item["dest"] + PREVIOUS)
            self._pause("copied")
        swap_first = plan != BACK and not self.check_command
        if swap_first:
            self._swap_while_running(recovering, previous_record)
        self.stopped_at = stopped_at = self.clock()
        rc, out, err = self._systemctl("stop", self.service)
        if rc != 0:
            answer = "systemctl stop %s failed (rc %d): %s" % (self.service, rc, (out + " " + err).strip())
            if recovering:
                raise SwitchFailed("%s. The interrupted switch's files stay as they are: run again once the service "
                                   "stops." % answer, False, self.result)
            if swap_first:
                self._put_back_while_running(answer, previous_record)
            self._forget_copies()
            raise SwitchFailed("%s. Nothing was switched." % answer, False, self.result)
        self._phase("stopped")
        self._pause("stopped")
        try:
            if plan == BACK:
                reason = "it was interrupted on its way back"
            elif self.previous_version() == previous_record:
                # The new version has not started from this switch (version.txt is written before the start): the
                # check still protects it, converging forward too.
                reason = self._check(stopped_at)
            else:
                reason = None
            if reason is None and not swap_first:
                self._swap_in(only_prepared=recovering)
                reason = self._reload_units([item["dest"] for item in self.files])
                if reason is None:
                    self._pause("reloaded")
            if reason is None:
                self._record(self.version + "/etcd3")
                self._phase("recorded")
                self._pause("recorded")
                reason = self._start_and_wait(self.version, pause="started")
        except Exception as error:  # pylint: disable=broad-except  # whatever it is, the member must not stay down
            reason = "%s (%s)" % (error, type(error).__name__)
        if reason is not None:
            self._back_up(stopped_at, reason, previous_record)
        self.result["downtime"] = round(self.clock() - stopped_at, 3)
        self._forget_copies()
        self.wait_caught_up()
        return self.result

    def _swap_while_running(self, recovering, previous_record):
        """Each prepared file over its live one and systemd's reload, before the stop; converging forward, only the
        files not swapped yet. A failure here puts the previous files back with the member still serving; converging,
        it changes nothing more (the member may be stopped, or serve either version) and asks for another run."""
        try:
            self._swap_in(only_prepared=recovering)
            reason = self._reload_units([item["dest"] for item in self.files])
        except Exception as error:  # pylint: disable=broad-except  # the previous files must go back, whatever it is
            reason = "%s (%s)" % (error, type(error).__name__)
        if reason is None:
            self._pause("reloaded")
            return
        if recovering:
            raise SwitchFailed("Finishing the interrupted switch to etcd %s failed before the stop: %s. Its files "
                               "stay as they are: run again." % (self.version, reason), False, self.result)
        self._put_back_while_running(reason, previous_record)

    def _put_back_while_running(self, reason, previous_record):
        """Before the stop took: the previous files back and systemd's reload, then fail. The marker turns to the way
        back first: a run killed while the files go back finishes going back, not forward."""
        self._write_marker(previous_record, WAY_BACK)
        failure = self._put_back_files()
        if failure:
            raise SwitchFailed("The switch to etcd %s failed before the stop: %s. Putting the previous files back "
                               "failed too: %s; they are in *%s." % (self.version, reason, failure, PREVIOUS),
                               False, self.result)
        self._forget_copies()
        raise SwitchFailed("The switch to etcd %s failed before the stop: %s. The previous files are back; the "
                           "member was not stopped by this switch." % (self.version, reason), False, self.result)

    def _put_back_files(self):
        """The previous files back, then systemd's reload: None, or what failed."""
        return self._reload_units(self._copy_back())

    def _copy_back(self):
        """Each copy over its live file where they differ (copied, not moved: until the way back ends, every file's
        previous content is there): the files put back."""
        put_back = [item["dest"] for item in self.files
                    if not filecmp.cmp(item["dest"], item["dest"] + PREVIOUS, shallow=False)]
        for dest in put_back:
            _copy_atomically(dest + PREVIOUS, dest)
        return put_back

    # -- leadership before the stop, the raft log after the start ---------------------------------------------------

    def hand_over_leadership(self, must_answer):
        """A leader hands leadership over before it stops: the cluster elects nobody while the member is out.

        ``must_answer``: a member that does not answer is refused (nothing stopped); converging from an interrupted
        switch, the member may be stopped already and there is nothing to hand over.
        """
        if self.leader_transferee is None and self.max_lag is None:
            return
        rc, out, err = self._etcdctl("endpoint", "status", "-w", "json", patient=True)
        status = own_status(out) if rc == 0 else None
        if status is None:
            if must_answer:
                raise SwitchFailed("%s does not answer its status (rc %d: %s). Nothing was stopped: the member should "
                                   "serve before its switch; look at journalctl -u %s."
                                   % (self.access.endpoint, rc, _last_line(out, err), self.service),
                                   False, self.result)
            return
        member_id = status["header"]["member_id"]
        if self.leader_transferee is None or status["leader"] != member_id or self.leader_transferee == member_id:
            return
        transferee = "%x" % self.leader_transferee
        rc, out, err = self._etcdctl("move-leader", transferee, patient=True)
        if rc != 0:
            raise SwitchFailed("This member leads, and moving leadership to %s failed (rc %d: %s). Nothing was "
                               "stopped." % (transferee, rc, _last_line(out, err)), False, self.result)
        self.result["leadership_moved_to"] = transferee

    def wait_caught_up(self):
        """Until the member's raft index is within ``max_lag`` entries of the leader's (not part of the downtime:
        the member serves; the next member must not stop before this one holds the log)."""
        if self.max_lag is None:
            return
        started, deadline = self.clock(), self.clock() + self.timeout
        while True:
            # The leader's index first, then this member's: entries clients write between the two reads are not
            # lag (a busy cluster's writes outran a read of both at once). With another member out etcdctl prints
            # the statuses it got, and fails: the leader's is read from them.
            _rc, cluster, cluster_err = self._etcdctl("endpoint", "status", "--cluster", "-w", "json")
            rc, out, err = self._etcdctl("endpoint", "status", "-w", "json")
            own = own_status(out) if rc == 0 else None
            lag = raft_lag(cluster, own)
            if lag is not None and lag <= self.max_lag:
                self.result["caught_up_seconds"] = round(self.clock() - started, 3)
                return
            if self.clock() >= deadline:
                raise SwitchFailed("etcd %s serves on this member, but it did not catch up with the leader within "
                                   "%ss (%s). Look at the cluster's health (etcdctl endpoint status --cluster) before "
                                   "running again." % (self.version, self.timeout,
                                                       "%d entries behind" % lag if lag is not None
                                                       else _last_line(cluster, cluster_err) if own
                                                       else _last_line(out, err)),
                                   False, self.result)
            self.sleep(self.poll_interval)

    def _phase(self, name):
        self.result["phases"][name] = round(self.clock() - self.stopped_at, 3)

    def _check(self, stopped_at):
        if not self.check_command:
            return None
        rc, out, err = self.run(self.check_command)
        self.result["check"] = dict(rc=rc, stdout=out, stderr=err, seconds=round(self.clock() - stopped_at, 3))
        if rc == 0:
            return None
        return "the check %s found: %s. %s" % (" ".join(self.check_command), (out + " " + err).strip(),
                                               self.check_advice)

    def _swap_in(self, only_prepared):
        """Each prepared file over its live one; converging forward, only those not swapped yet."""
        for item in self.files:
            if only_prepared and not os.path.exists(item["src"]):
                continue
            os.replace(item["src"], item["dest"])
            self._pause("swapping")

    def _reload_units(self, changed):
        """systemd reads a changed unit before the start (and before version.txt names the new version)."""
        if not any(dest.endswith(".service") for dest in changed):
            return None
        rc, out, err = self._systemctl("daemon-reload")
        return None if rc == 0 else "systemctl daemon-reload failed (rc %d): %s" % (rc, (out + " " + err).strip())

    def _forget_copies(self):
        """The copies, then the marker; and any temporary file a kill left half written."""
        for item in self.files:
            for leftover in (PREVIOUS, PREVIOUS + ".tmp", ".tmp"):
                _remove(item["dest"] + leftover)
        _remove(self.version_file + ".tmp")
        _remove(self.marker)
        _remove(self.marker + ".tmp")

    def _record(self, content):
        if self.previous_version() != content:
            self._write(self.version_file, content)

    def _write(self, path, content):
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        uid, gid = _owner_ids(self.owner, self.group)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    def _start_and_wait(self, version, pause=None):
        rc, out, err = self._systemctl("start", self.service)
        if rc != 0:
            return "systemctl start %s failed: %s" % (self.service, (out + " " + err).strip())
        self._phase("started")
        if pause:
            self._pause(pause)
        healthy, detail = self.wait_healthy()
        if not healthy:
            return "etcd %s did not become healthy within %ss: %s" % (version, self.timeout, detail)
        self._phase("healthy")
        return None

    def wait_healthy(self):
        """Poll ``etcdctl endpoint health`` until it answers healthy or the timeout passes: (healthy, last answer)."""
        deadline = self.clock() + self.timeout
        detail = ""
        while True:
            rc, out, err = self._etcdctl("endpoint", "health")
            detail = (out + " " + err).strip()
            if rc == 0:
                return True, detail
            if self.clock() >= deadline:
                return False, detail
            self.sleep(self.poll_interval)

    def _back_up(self, stopped_at, reason, previous_record):
        """Put the previous files and version back, start the previous version, wait, and raise with the reason."""
        logs = self._journal()
        self.result.update(journal=logs)
        rc, out, err = self._systemctl("stop", self.service)
        if rc != 0:
            self.result.update(downtime=round(self.clock() - stopped_at, 3))
            answer = (out + " " + err).strip()
            raise SwitchFailed("The switch to etcd %s failed: %s. Stopping it to put the previous version back failed "
                               "too (rc %d: %s): the new files stay in place, their previous content in *%s. Look "
                               "at journalctl -u %s." % (self.version, reason, rc, answer, PREVIOUS, self.service),
                               False, self.result)
        # From here a re-run finishes the way back, whatever the files say.
        self._write_marker(previous_record, WAY_BACK)
        dropped = [item for item in self.files if not os.path.exists(item["dest"] + PREVIOUS)]
        if dropped:
            self.result.update(downtime=round(self.clock() - stopped_at, 3))
            raise SwitchFailed("The switch to etcd %s failed: %s. The previous content of %s was dropped once etcd %s "
                               "had served (before an interruption), so there is no way back: the member is stopped "
                               "with the new files. Look at journalctl -u %s."
                               % (self.version, reason, _names(dropped), self.version, self.service),
                               False, self.result)
        put_back = self._copy_back()
        if previous_record:
            self._record(previous_record)
        else:
            _remove(self.version_file)
        previous = self.result["previous_version"] or "the previous version"
        failure = self._reload_units(put_back) or self._start_and_wait(previous)
        self.result.update(rolled_back=failure is None, downtime=round(self.clock() - stopped_at, 3))
        if failure:
            raise SwitchFailed("The switch to etcd %s failed: %s. Starting %s again with its files back in place "
                               "failed too: %s. Look at journalctl -u %s." % (self.version, reason, previous, failure,
                                                                              self.service), False, self.result)
        self._forget_copies()
        raise SwitchFailed("The switch to etcd %s failed: %s. etcd %s serves again with its previous files; the data "
                           "was not touched." % (self.version, reason, previous), True, self.result)

    def _journal(self):
        rc, out, _err = self.run([self.journalctl, "-u", self.service, "-n", "20", "--no-pager", "-o", "cat"])
        return out.splitlines() if rc == 0 else []

    def _systemctl(self, *args):
        return self.run([self.systemctl] + list(args))

    def _etcdctl(self, *args, **options):
        """etcdctl against the member, bounded: a poll that gets no answer costs a second and is asked again; a
        ``patient`` call, asked once, gives a busy host's TLS handshake and a leader transfer time to finish."""
        timeouts = ["--dial-timeout=5s", "--command-timeout=15s"] if options.get("patient") \
            else ["--dial-timeout=1s", "--command-timeout=2s"]
        return self.run([self.access.etcdctl] + timeouts + list(args), environ=self.access.environment())

    def _pause(self, point):
        wanted, _sep, flag = self.pause_at.partition(":")
        if wanted == point:
            with open(flag, "w") as handle:
                handle.write(str(os.getpid()))
            while True:  # until the test kills the process tree
                time.sleep(60)


def own_status(output):
    """The ``Status`` of ``etcdctl endpoint status -w json`` against one endpoint, or None when it is not one."""
    try:
        status = json.loads(output)[0]["Status"]
        return status if "member_id" in status["header"] and "leader" in status else None
    except (ValueError, LookupError, TypeError):
        return None


def raft_lag(cluster_output, own):
    """How many raft entries a member is behind its leader: the leader's index from ``etcdctl endpoint status
    --cluster -w json`` read before the member's own status ``own`` (from ``own_status``); None when they do not show
    both (the member or its leader out, no leader yet)."""
    try:
        index = dict((entry["Status"]["header"]["member_id"], entry["Status"]["raftIndex"])
                     for entry in json.loads(cluster_output))
        return index[own["leader"]] - own["raftIndex"]
    except (ValueError, LookupError, TypeError, AttributeError):
        return None


def _last_line(out, err):
    """etcdctl's last word (its error follows its JSON log lines)."""
    lines = [line.strip() for line in (out + "\n" + err).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _copy_atomically(src, dest):
    tmp = dest + ".tmp"
    shutil.copy2(src, tmp)
    stat = os.stat(src)
    os.chown(tmp, stat.st_uid, stat.st_gid)
    os.replace(tmp, dest)


def _owner_ids(owner, group):
    """uid and gid for version.txt (-1 keeps the writer's); KeyError names an unknown one."""
    uid = -1 if owner is None else pwd.getpwnam(owner).pw_uid
    gid = -1 if group is None else grp.getgrnam(group).gr_gid
    return uid, gid


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _read(path):
    with open(path) as handle:
        return handle.read().strip()


def _names(items, suffix="", key="dest"):
    return ", ".join(item[key] + suffix for item in items)
