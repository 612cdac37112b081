# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What a running etcd member of a systemd unit was given, read from the process itself (on the member's host).

A member the collection did not install (a distribution package, kubespray, a hand-written unit) is configured
by flags in its unit, ``ETCD_*`` variables (an ``EnvironmentFile``, ``Environment=``) or a YAML file named by
``--config-file``. What etcd got is exactly its command line and environment at exec time (``/proc/PID/cmdline``,
``/proc/PID/environ``) and that file. This reads them without changing anything; the controller's
``etcd_member_settings`` filter applies etcd's rules to them (it parses the YAML, which hosts may lack).

The unit must start the member as it runs now: a unit changed on disk and not reloaded, or environment files
changed since the start, would have the switch start it on settings nobody read. Those are refused, as are a unit
that does not run etcd itself, a binary replaced on disk, one another process or unit also runs, and a chroot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shlex

from .compat import BOOLEAN_FLAGS

CONFIG_FILE = "config-file"
# Read by etcd before its flags, not a setting of the member.
NOT_SETTINGS = ("ETCD_UNSUPPORTED_ARCH",)
# 3.3 reads a configuration file only from the flag; 3.4 and later from ETCD_CONFIG_FILE too.
CONFIG_FILE_VARIABLE_SINCE = (3, 4)
UNIT_PROPERTIES = ("LoadState", "ActiveState", "MainPID", "ExecStart", "FragmentPath", "DropInPaths",
                   "NeedDaemonReload", "RootDirectory", "RootImage", "Environment", "EnvironmentFiles")


class SettingsError(Exception):
    """The member's settings cannot be read or used; the text names the problem and the fix."""


def parse_flags(args):
    """``{name: value}`` of a command line's flags (without the program), as Go's flag package reads them: a
    boolean flag is true alone or takes its value after ``=``; any other takes the next argument otherwise."""
    flags = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg in ("-", "---"):
            raise SettingsError("%r on etcd's command line is not a flag: etcd would have refused it" % arg)
        name, equals, value = arg.lstrip("-").partition("=")
        if not equals:
            if name in BOOLEAN_FLAGS:
                value = "true"
            elif index < len(args):
                value = args[index]
                index += 1
            else:
                raise SettingsError("-%s on etcd's command line has no value: etcd would have refused it" % name)
        flags[name] = value
    return flags


def environment_settings(environ):
    """``{name: value}`` of the ``ETCD_*`` variables etcd reads as flags."""
    return {key[len("ETCD_"):].lower().replace("_", "-"): value
            for key, value in environ.items() if key.startswith("ETCD_") and key not in NOT_SETTINGS}


def config_file_path(argv, environ, cwd, version=(3, 4)):
    """The configuration file the member reads (absolute), or "" when it has none. ``version``: (major, minor)."""
    path = parse_flags(list(argv[1:])).get(CONFIG_FILE)
    if not path and tuple(version) >= CONFIG_FILE_VARIABLE_SINCE:
        path = environment_settings(environ).get(CONFIG_FILE)
    return os.path.normpath(os.path.join(cwd, path)) if path else ""


def systemd_properties(text):
    """``systemctl show`` output as a dict of lists (a property may appear more than once; values may hold ``=``)."""
    properties = {}
    for line in text.splitlines():
        if "=" in line:
            name, value = line.partition("=")[::2]
            properties.setdefault(name, []).append(value)
    return properties


def exec_path(exec_start):
    """The program of a unit's ``ExecStart`` as ``systemctl show`` prints it (``{ path=/usr/bin/etcd ; ...}``)."""
    return _exec_field(exec_start, "path")


def _exec_field(exec_start, wanted):
    for field in exec_start.strip("{} ").split(" ; "):
        name, value = field.partition("=")[::2]
        if name.strip() == wanted:
            return value.strip()
    return ""


def environment_file(text):
    """The variables of a systemd environment file (``KEY=VALUE`` lines, quotes removed, comments skipped)."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.partition("=")[::2]
        value = value.strip()
        if value[:1] in ("'", '"'):
            try:
                value = " ".join(shlex.split(value))
            except ValueError:
                pass
        found[key.strip()] = value
    return found


def unit_environment(unit, read=None):
    """The ``ETCD_*`` variables the unit would start etcd with now: ``Environment=``, then its environment files in
    order (each overriding what came before, as systemd does). Files marked optional (``-``) may be missing."""
    read = read or _read
    found = {}
    for value in unit.get("Environment", []):
        for assignment in shlex.split(value):
            key, item = assignment.partition("=")[::2]
            found[key] = item
    for value in unit.get("EnvironmentFiles", []):
        path = value.split(" (ignore_errors=")[0].strip()
        if not path:
            continue
        try:
            found.update(environment_file(read(path)))
        except (IOError, OSError):
            if "ignore_errors=yes" not in value:
                raise SettingsError("the unit's environment file %s cannot be read: the member would not start"
                                    % path)
    return {key: item for key, item in found.items() if key.startswith("ETCD_") and key not in NOT_SETTINGS}


def _read(path, mode="r"):
    with open(path, mode) as handle:
        return handle.read()


def _process_view(pid, proc):
    """The process's environment, working directory and binary; read as its owner when root may not (a container
    without CAP_SYS_PTRACE: the kernel lets a process's owner read them)."""
    process = os.path.join(proc, str(pid))

    def view():
        return {"environ": _read(os.path.join(process, "environ"), "rb").decode("utf-8", "replace"),
                "cwd": os.readlink(os.path.join(process, "cwd")), "exe": os.readlink(os.path.join(process, "exe"))}

    try:
        found = view()
    except (IOError, OSError):
        found = _as_owner(os.stat(process), view)
    return found["environ"], found["cwd"], found["exe"]


def _as_owner(owner, read):
    """``read()`` in a child process that has become ``owner``'s user and group (a stat result), its result back
    through a pipe as JSON."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        try:
            os.setgroups([])
            os.setgid(owner.st_gid)
            os.setuid(owner.st_uid)
            payload = json.dumps({"found": read()})
        except Exception as error:  # pylint: disable=broad-except  # reported by the parent, whatever it is
            payload = json.dumps({"error": str(error)})
        os.write(writer, payload.encode("utf-8"))
        os._exit(0)  # pylint: disable=protected-access  # the forked child must not run the module's cleanup
    os.close(writer)
    chunks = []
    while True:
        chunk = os.read(reader, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(reader)
    os.waitpid(child, 0)
    answer = json.loads(b"".join(chunks).decode("utf-8") or "{}")
    if "found" not in answer:
        raise SettingsError("the process could not be read as its owner (uid %d) either: %s"
                            % (owner.st_uid, answer.get("error", "no answer")))
    return answer["found"]


def _shared_binary(service, pid, binary, run, systemctl, proc):
    """Another process or loaded unit that runs ``binary``: the switch would change its version too."""
    others = []
    for entry in os.listdir(proc):
        if not entry.isdigit() or int(entry) == pid:
            continue
        try:
            exe = os.readlink(os.path.join(proc, entry, "exe"))
        except (IOError, OSError):
            continue
        if exe in (binary, binary + " (deleted)"):
            command = _read(os.path.join(proc, entry, "cmdline"), "rb").replace(b"\0", b" ")
            others.append("process %s (%s)" % (entry, command.decode("utf-8", "replace").strip()))
    rc, out, _err = run([systemctl, "show", "-p", "Id", "-p", "ExecStart", "*.service"])
    if rc == 0:
        for block in out.split("\n\n"):
            unit = systemd_properties(block)
            name = (unit.get("Id") or [""])[0]
            if name in (service, service + ".service"):
                continue
            if any(os.path.realpath(exec_path(value) or "/") == binary for value in unit.get("ExecStart", [])):
                others.append("unit %s" % name)
    return others


def read_member_process(service, run, systemctl="systemctl", proc="/proc", version_of=None):
    """What the running member of ``service`` was given: its unit's program, command line, ``ETCD_*`` environment,
    working directory and configuration file. ``run(argv)`` returns (rc, stdout, stderr); ``version_of(binary)``
    returns the binary's (major, minor) (by default from ``etcd --version``).

    Raises SettingsError naming the problem and the fix.
    """
    argv_show = [systemctl, "show", service] + [arg for name in UNIT_PROPERTIES for arg in ("-p", name)]
    rc, out, err = run(argv_show)
    if rc != 0:
        raise SettingsError("systemctl show %s failed: %s" % (service, (err or out).strip()))
    unit = systemd_properties(out)

    def one(name):
        return (unit.get(name) or [""])[0]

    if one("LoadState") != "loaded":
        raise SettingsError("there is no systemd unit %s on the host (%s): give the unit that runs etcd as "
                            "etcd_adopt_service" % (service, one("LoadState") or "unknown"))
    pid = int(one("MainPID") or 0)
    if one("ActiveState") != "active" or pid <= 0:
        raise SettingsError("%s does not run (%s): start it; every member must run before a rolling change"
                            % (service, one("ActiveState")))
    if one("NeedDaemonReload") == "yes":
        raise SettingsError("%s changed on disk since systemd read it: its next start would use settings this run "
                            "did not read. Run systemctl daemon-reload and restart %s first (or undo the change)"
                            % (service, service))
    if one("RootDirectory") or one("RootImage"):
        raise SettingsError("%s runs etcd in a root directory or image of its own: switching its binary in place "
                            "is not supported" % service)
    program = exec_path(one("ExecStart"))
    process = os.path.join(proc, str(pid))
    # Arguments may be empty ("--wal-dir ''"): only the terminating NUL makes no argument.
    argv = [arg.decode("utf-8", "replace") for arg in _read(os.path.join(process, "cmdline"), "rb").split(b"\0")[:-1]]
    raw_environ, cwd, running = _process_view(pid, proc)
    # Only etcd's own variables leave the host: the rest of the environment may hold anything.
    environ = dict(entry.partition("=")[::2] for entry in raw_environ.split("\0")
                   if entry.startswith("ETCD_") and "=" in entry)
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
    # systemd prints the arguments joined by spaces, variables ($) and specifiers (%) unexpanded: compare the rest.
    unit_argv = _exec_field(one("ExecStart"), "argv[]")
    unit_args = unit_argv.split(" ", 1)[1] if " " in unit_argv else ""
    if unit_argv and not set("$%") & set(unit_argv) and unit_args != " ".join(argv[1:]):
        raise SettingsError("%s's ExecStart (%s) is not the command line etcd runs with (%s): the unit changed "
                            "since etcd started; restart %s on its current settings first"
                            % (service, unit_argv, " ".join(argv), service))
    now = unit_environment(unit)
    if now != environ:
        changed = sorted(key for key in set(now) | set(environ) if now.get(key) != environ.get(key))
        raise SettingsError("%s's environment changed since etcd started (%s: running %s, the unit now %s): its next "
                            "start would use settings this run did not read. Restart %s on its current settings "
                            "first (or put them back)" % (service, ", ".join(changed),
                                                          {key: environ.get(key) for key in changed},
                                                          {key: now.get(key) for key in changed}, service))
    shared = _shared_binary(service, pid, running, run, systemctl, proc)
    if shared:
        raise SettingsError("%s is also run by %s: replacing it in place would change their version too. Give each "
                            "unit a binary of its own first" % (running, ", ".join(shared)))
    version = (version_of or (lambda binary: _binary_version(binary, run)))(program)
    config_file = config_file_path(argv, environ, cwd, version)
    try:
        config_text = _read(config_file) if config_file else ""
    except (IOError, OSError) as error:
        raise SettingsError("the configuration file %s that %s reads cannot be read: %s" % (config_file, service, error))
    return {
        "service": service,
        "pid": pid,
        "binary": program,
        "binary_version": "%d.%d" % tuple(version),
        "unit_files": [path for path in [one("FragmentPath")] + one("DropInPaths").split() if path],
        "argv": argv,
        "environment": environ,
        "cwd": cwd,
        "config_file": config_file,
        "config_text": config_text,
    }


def _binary_version(binary, run):
    rc, out, err = run([binary, "--version"])
    for line in out.splitlines() if rc == 0 else []:
        if line.startswith("etcd Version:"):
            major, minor_version = line.split(":")[1].strip().split(".")[:2]
            return int(major), int(minor_version)
    raise SettingsError("%s --version does not say its version: %s" % (binary, (out + err).strip()))


def owning_package(path, run, dpkg_query=None, rpm=None):
    """(package, held) of the package that owns ``path``, or ("", False): a package upgrade would put its own
    version back over a binary switched in place (held: dpkg's hold, which upgrades respect)."""
    if dpkg_query:
        rc, out, _err = run([dpkg_query, "-S", path])
        if rc == 0 and ":" in out:
            package = out.split(":")[0].strip()
            rc, status, _err = run([dpkg_query, "-W", "-f=${Status}", package])
            return package, rc == 0 and status.split()[:1] == ["hold"]
    if rpm:
        rc, out, _err = run([rpm, "-qf", "--qf", "%{NAME}", path])
        if rc == 0 and out.strip():
            return out.strip(), False
    return "", False
