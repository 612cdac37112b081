# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What a running etcd member of a systemd unit was given, read from the process itself (on the member's host).

A member the collection did not install (a distribution package, kubespray, a hand-written unit) is configured
by flags in its unit, ``ETCD_*`` variables (an ``EnvironmentFile``, ``Environment=``) or a YAML file named by
``--config-file``. What etcd got is exactly its command line and environment at exec time (``/proc/PID/cmdline``,
``/proc/PID/environ``) and that file. This reads them without changing anything; the controller's
``etcd_member_settings`` filter applies etcd's rules to them (it parses the YAML, which hosts may lack).

A flag is ``-name`` or ``--name``, its value after ``=`` or in the next argument; etcd refuses stray arguments, so
a flag followed by another flag (or nothing) is a boolean set to true.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

CONFIG_FILE = "config-file"
# Read by etcd before its flags, not a setting of the member.
NOT_SETTINGS = ("ETCD_UNSUPPORTED_ARCH",)


class SettingsError(Exception):
    """The member's settings cannot be read or used; the text names the problem and the fix."""


def parse_flags(args):
    """``{name: value}`` of a command line's flags (without the program), as Go's flag package reads them."""
    flags = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            raise SettingsError("%r on etcd's command line is not a flag: etcd would have refused it" % arg)
        name, equals, value = arg.lstrip("-").partition("=")
        if not equals:
            if index < len(args) and not args[index].startswith("-"):
                value = args[index]
                index += 1
            else:
                value = "true"
        flags[name] = value
    return flags


def environment_settings(environ):
    """``{name: value}`` of the ``ETCD_*`` variables etcd reads as flags."""
    return {key[len("ETCD_"):].lower().replace("_", "-"): value
            for key, value in environ.items() if key.startswith("ETCD_") and key not in NOT_SETTINGS}


def config_file_path(argv, environ, cwd):
    """The configuration file the member reads (absolute), or "" when it has none."""
    path = parse_flags(list(argv[1:])).get(CONFIG_FILE) or environment_settings(environ).get(CONFIG_FILE)
    return os.path.normpath(os.path.join(cwd, path)) if path else ""


def systemd_properties(text):
    """``systemctl show`` output as a dict (values may hold ``=``)."""
    return dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)


def exec_path(exec_start):
    """The program of a unit's ``ExecStart`` as ``systemctl show`` prints it (``{ path=/usr/bin/etcd ; ...}``)."""
    for field in exec_start.strip("{} ").split(" ; "):
        name, value = field.partition("=")[::2]
        if name.strip() == "path":
            return value.strip()
    return ""


def _read(path, mode="r"):
    with open(path, mode) as handle:
        return handle.read()


def read_member_process(service, run, systemctl="systemctl", proc="/proc"):
    """What the running member of ``service`` was given: its unit's program, command line, ``ETCD_*`` environment,
    working directory and configuration file. ``run(argv)`` returns (rc, stdout, stderr).

    Raises SettingsError naming the problem and the fix.
    """
    rc, out, err = run([systemctl, "show", service, "-p", "LoadState", "-p", "ActiveState", "-p", "MainPID",
                        "-p", "ExecStart", "-p", "FragmentPath", "-p", "DropInPaths"])
    if rc != 0:
        raise SettingsError("systemctl show %s failed: %s" % (service, (err or out).strip()))
    unit = systemd_properties(out)
    if unit.get("LoadState") != "loaded":
        raise SettingsError("there is no systemd unit %s on the host (%s): give the unit that runs etcd as "
                            "etcd_adopt_service" % (service, unit.get("LoadState", "unknown")))
    pid = int(unit.get("MainPID") or 0)
    if unit.get("ActiveState") != "active" or pid <= 0:
        raise SettingsError("%s does not run (%s): start it; every member must run before a rolling change"
                            % (service, unit.get("ActiveState")))
    program = exec_path(unit.get("ExecStart", ""))
    process = os.path.join(proc, str(pid))
    argv = [arg.decode("utf-8", "replace") for arg in _read(os.path.join(process, "cmdline"), "rb").split(b"\0")
            if arg]
    # Only etcd's own variables leave the host: the rest of the environment may hold anything.
    environ = dict(entry.decode("utf-8", "replace").partition("=")[::2]
                   for entry in _read(os.path.join(process, "environ"), "rb").split(b"\0")
                   if entry.startswith(b"ETCD_") and b"=" in entry)
    cwd = os.readlink(os.path.join(process, "cwd"))
    running = os.readlink(os.path.join(process, "exe"))
    if running.endswith(" (deleted)"):
        raise SettingsError("the etcd of %s (pid %d) was replaced on disk after it started (%s): restart %s so "
                            "that it runs the file its unit names, then run again" % (service, pid, running, service))
    if not program or os.path.realpath(program) != running:
        raise SettingsError("%s's ExecStart runs %s, not the etcd binary that runs (%s): the collection switches "
                            "the binary the unit runs in place, so ExecStart must run etcd itself"
                            % (service, program or "nothing", running))
    if os.path.islink(program):
        raise SettingsError("%s's ExecStart runs %s, a symlink to %s: point ExecStart (or the link) at a file the "
                            "collection may replace in place" % (service, program, running))
    config_file = config_file_path(argv, environ, cwd)
    try:
        config_text = _read(config_file) if config_file else ""
    except (IOError, OSError) as error:
        raise SettingsError("the configuration file %s that %s reads cannot be read: %s" % (config_file, service, error))
    return {
        "service": service,
        "pid": pid,
        "binary": program,
        "unit_files": [path for path in [unit.get("FragmentPath", "")] + unit.get("DropInPaths", "").split() if path],
        "argv": argv,
        "environment": environ,
        "cwd": cwd,
        "config_file": config_file,
        "config_text": config_text,
    }
