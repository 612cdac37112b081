# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Switch a running cluster's member to other binaries in one action on its host.

Everything that can be prepared with the member running is prepared by the caller: the binaries installed, the
next configuration and unit rendered beside the live ones (``<dest>.next``). The switch then stops the service,
runs an optional check on the stopped data, swaps the prepared files in (``os.replace``: each file is either the
old or the new one, never half written), records the version in ``version.txt``, starts the service and polls the
member's health every ``poll_interval`` seconds. The member is out for etcd's stop and start plus milliseconds.

The data is the cluster's: the switch never writes it (only ``version.txt``). If the check, the start or the
health wait fails, the same action puts the previous files and ``version.txt`` back, starts the previous version
and waits for it, then reports the failure: the member serves as before.

Everything that can fail without an outage is done before the stop: the checks (``problems``: prepared files
present and on the live files' filesystem, no symlinked live file, no ``.previous`` left by an interrupted
switch, owner and group known) and the copies of the live files for the way back. Any error after the stop, of
any kind, takes the way back; a way back that cannot stop the new version or start the old one says so.

Invariant for a crash (the whole process tree killed) at any moment: every live file is whole (old or new), each
live file's previous content is in ``<dest>.previous`` from before the stop until the switch (or its way back)
has ended, the data dir is untouched, and systemd has read the unit before ``version.txt`` names a new version.
The member may be left stopped; the next switch refuses to run while a ``.previous`` is there, naming what to
compare, so a crash is resolved by a person, never overwritten.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import shutil
import time

from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import clean_environment

PREVIOUS = ".previous"


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
                 sleep=time.sleep, systemctl="systemctl", journalctl="journalctl"):
        self.run = run
        self.service = service
        self.version_file = os.path.join(data_dir, "version.txt")
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
        self.result = dict(version=version, files=[f["dest"] for f in files], rolled_back=False)

    # -- what the switch needs before it stops anything -------------------------------------------------------------

    def problems(self, check_mode=False):
        """What makes the switch impossible or unsafe, found before anything stops (check mode: no prepared files)."""
        found = []
        for item in self.files:
            src, dest = item["src"], item["dest"]
            if os.path.islink(dest):
                found.append("%s is a symlink: give the file it points to as dest, so the switch and its way back "
                             "replace that file" % dest)
            if os.path.lexists(dest + PREVIOUS):
                previous = dest + PREVIOUS
                found.append("%s is left by an interrupted switch: compare it with %s, keep the one the member "
                             "should run as %s, delete %s, then run again" % (previous, dest, dest, previous))
            if check_mode:
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

    def previous_version(self):
        try:
            with open(self.version_file) as handle:
                return handle.read().strip()
        except (IOError, OSError):
            return ""

    # -- the switch ------------------------------------------------------------------------------------------------

    def switch(self):
        """Stop, check, swap, reload, record, start, wait; on any failure after the stop, the way back (raises)."""
        previous_record = self.previous_version()
        self.result["previous_version"] = previous_record.split("/")[0]
        # The copies for the way back are made while the member still runs: the outage is only stop to healthy.
        for item in self.files:
            if os.path.exists(item["dest"]):
                _copy_atomically(item["dest"], item["dest"] + PREVIOUS)
        stopped_at = self.clock()
        rc, out, err = self._systemctl("stop", self.service)
        if rc != 0:
            self._forget_copies()
            raise SwitchFailed("systemctl stop %s failed (rc %d): %s. Nothing was switched."
                               % (self.service, rc, (out + " " + err).strip()), False, self.result)
        swapped = []
        try:
            reason = self._check(stopped_at)
            if reason is None:
                self._swap_in(swapped)
                reason = self._reload_units(swapped)
            if reason is None:
                self._record(self.version + "/etcd3")
                reason = self._start_and_wait(self.version)
        except Exception as error:  # pylint: disable=broad-except  # whatever it is, the member must not stay down
            reason = "%s (%s)" % (error, type(error).__name__)
        if reason is not None:
            self._back_up(stopped_at, reason, swapped, previous_record)
        self.result["downtime"] = round(self.clock() - stopped_at, 3)
        self._forget_copies()
        return self.result

    def _check(self, stopped_at):
        if not self.check_command:
            return None
        rc, out, err = self.run(self.check_command)
        self.result["check"] = dict(rc=rc, stdout=out, stderr=err, seconds=round(self.clock() - stopped_at, 3))
        if rc == 0:
            return None
        return "the check %s found: %s. %s" % (" ".join(self.check_command), (out + " " + err).strip(),
                                               self.check_advice)

    def _swap_in(self, swapped):
        for item in self.files:
            os.replace(item["src"], item["dest"])
            swapped.append(item["dest"])

    def _reload_units(self, changed):
        """systemd reads a changed unit before the start (and before version.txt names the new version)."""
        if not any(dest.endswith(".service") for dest in changed):
            return None
        rc, out, err = self._systemctl("daemon-reload")
        return None if rc == 0 else "systemctl daemon-reload failed (rc %d): %s" % (rc, (out + " " + err).strip())

    def _forget_copies(self):
        for item in self.files:
            _remove(item["dest"] + PREVIOUS)

    def _record(self, content):
        if self.previous_version() == content:
            return
        tmp = self.version_file + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        uid, gid = _owner_ids(self.owner, self.group)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.version_file)

    def _start_and_wait(self, version):
        rc, out, err = self._systemctl("start", self.service)
        if rc != 0:
            return "systemctl start %s failed: %s" % (self.service, (out + " " + err).strip())
        healthy, detail = self.wait_healthy()
        if not healthy:
            return "etcd %s did not become healthy within %ss: %s" % (version, self.timeout, detail)
        return None

    def wait_healthy(self):
        """Poll ``etcdctl endpoint health`` until it answers healthy or the timeout passes: (healthy, last answer)."""
        deadline = self.clock() + self.timeout
        detail = ""
        while True:
            rc, out, err = self.run([self.access.etcdctl, "--dial-timeout=1s", "--command-timeout=2s",
                                     "endpoint", "health"], environ=self.access.environment())
            detail = (out + " " + err).strip()
            if rc == 0:
                return True, detail
            if self.clock() >= deadline:
                return False, detail
            self.sleep(self.poll_interval)

    def _back_up(self, stopped_at, reason, swapped, previous_record):
        """Put the previous files and version back, start the previous version, wait, and raise with the reason."""
        logs = self._journal()
        rc, out, err = self._systemctl("stop", self.service)
        if rc != 0:
            self.result.update(downtime=round(self.clock() - stopped_at, 3), journal=logs)
            answer = (out + " " + err).strip()
            raise SwitchFailed("The switch to etcd %s failed: %s. Stopping it to put the previous version back failed "
                               "too (rc %d: %s): the new files stay in place, their previous content in *%s. Look "
                               "at journalctl -u %s." % (self.version, reason, rc, answer, PREVIOUS, self.service),
                               False, self.result)
        for dest in swapped:
            os.replace(dest + PREVIOUS, dest)
        if previous_record:
            self._record(previous_record)
        else:
            _remove(self.version_file)
        self._reload_units(swapped)
        previous = self.result["previous_version"] or "the previous version"
        failure = self._start_and_wait(previous)
        self.result.update(rolled_back=failure is None, downtime=round(self.clock() - stopped_at, 3), journal=logs)
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
