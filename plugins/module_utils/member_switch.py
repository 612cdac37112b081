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

Invariant for a crash (the whole process tree killed) at any moment: every live file is whole (old or new), every
file swapped in has its previous content in ``<dest>.previous`` until the switch succeeds, and the data dir is
untouched; the member may be left stopped, and starting the service (or running the switch again) serves again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
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

    def missing_files(self):
        return [f["src"] for f in self.files if not os.path.isfile(f["src"])]

    def previous_version(self):
        try:
            with open(self.version_file) as handle:
                return handle.read().strip()
        except (IOError, OSError):
            return ""

    # -- the switch ------------------------------------------------------------------------------------------------

    def switch(self):
        previous_record = self.previous_version()
        self.result["previous_version"] = previous_record.split("/")[0]
        stopped_at = self.clock()
        self._systemctl("stop", self.service)
        if self.check_command:
            rc, out, err = self.run(self.check_command)
            self.result["check"] = dict(rc=rc, stdout=out, stderr=err, seconds=round(self.clock() - stopped_at, 3))
            if rc != 0:
                self._back_up(stopped_at, "the check %s found: %s. %s" % (
                    " ".join(self.check_command), (out + " " + err).strip(), self.check_advice), swapped=[],
                    previous_record=previous_record)
        swapped = self._swap_in()
        self._record(self.version + "/etcd3")
        if any(f["dest"].endswith(".service") for f in self.files):
            self._systemctl("daemon-reload")
        failure = self._start_and_wait(self.version)
        if failure:
            self._back_up(stopped_at, failure, swapped, previous_record)
        self.result["downtime"] = round(self.clock() - stopped_at, 3)
        for dest in swapped:
            _remove(dest + PREVIOUS)
        return self.result

    def _swap_in(self):
        swapped = []
        for item in self.files:
            dest = item["dest"]
            if os.path.exists(dest):
                # A copy, not a rename: the live file stays whole until the new one replaces it.
                _copy_atomically(dest, dest + PREVIOUS)
            swapped.append(dest)
            os.replace(item["src"], dest)
        return swapped

    def _record(self, content):
        if self.previous_version() == content:
            return
        tmp = self.version_file + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if self.owner is not None or self.group is not None:
            shutil.chown(tmp, self.owner, self.group)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.version_file)

    def _start_and_wait(self, version):
        rc, out, err = self._systemctl("start", self.service, check=False)
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
        self._systemctl("stop", self.service, check=False)
        for dest in swapped:
            if os.path.exists(dest + PREVIOUS):
                os.replace(dest + PREVIOUS, dest)
        if previous_record:
            self._record(previous_record)
        if any(dest.endswith(".service") for dest in swapped):
            self._systemctl("daemon-reload", check=False)
        previous = self.result["previous_version"] or "the previous version"
        failure = self._start_and_wait(previous)
        self.result.update(rolled_back=failure is None, downtime=round(self.clock() - stopped_at, 3), journal=logs)
        if failure:
            raise SwitchFailed("The switch to etcd %s failed: %s. Starting %s again with its files back in place "
                               "failed too: %s. Look at journalctl -u %s." % (self.version, reason, previous, failure,
                                                                              self.service), False, self.result)
        raise SwitchFailed("The switch to etcd %s failed: %s. etcd %s serves again with its previous files; the data "
                           "was not touched." % (self.version, reason, previous), True, self.result)

    def _journal(self):
        rc, out, _err = self.run([self.journalctl, "-u", self.service, "-n", "20", "--no-pager", "-o", "cat"])
        return out.splitlines() if rc == 0 else []

    def _systemctl(self, *args, **kwargs):
        rc, out, err = self.run([self.systemctl] + list(args))
        if rc != 0 and kwargs.get("check", True):
            raise SwitchFailed("systemctl %s failed (rc %d): %s" % (" ".join(args), rc, (out + " " + err).strip()),
                               False, self.result)
        return rc, out, err


def _copy_atomically(src, dest):
    tmp = dest + ".tmp"
    shutil.copy2(src, tmp)
    stat = os.stat(src)
    os.chown(tmp, stat.st_uid, stat.st_gid)
    os.replace(tmp, dest)


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass
