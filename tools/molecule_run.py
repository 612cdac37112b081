"""Run the molecule scenarios in lanes: the scenarios of a lane one after the other, the lanes side by side.

Every scenario has its own containers on the shared internal network, so lanes do not meet; a scenario mostly
waits on systemd, etcd and Ansible round trips, so two lanes on two CPUs take little longer than the longest.
Each scenario's output goes to .cache/molecule-logs/<scenario>.log and is printed whole when it ends, with its
time; the exit status is non-zero unless every scenario passed (the other lanes still finish), and the last lines
name each failed scenario's last failed tasks and their messages (CI shows only the end of its output).

    python tools/molecule_run.py rolling default,cluster
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# molecule and the ansible-* tools it calls, from the venv this runs in.
VENV_BIN = str(Path(sys.executable).parent)
# Each task's time in the log, and the slowest ones at the end (where the CI budget goes).
ENV = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
           ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
LOGS = ROOT / ".cache" / "molecule-logs"
# Each scenario's ephemeral directory (inventory, the controller's snapshots, CA, downloads), made empty before
# every run: molecule's default one is named after the project directory ("extensions" in every checkout) and is
# pruned only when a sequence ends, so a run killed midway left its snapshots to the next run of any checkout
# (CI once counted two snapshots of one hop). Its destroy step removes containers by the platforms' names.
EPHEMERAL = ROOT / ".cache" / "molecule-ephemeral"
PRINTING = threading.Lock()
# Ansible's own log of a scenario (its playbooks' and the ones they run), one line per task header or result:
# molecule's console output wraps every line at 80 columns, so a failure's JSON is read from here.
LOGGED = re.compile(r"^\S+ \S+ p=\d+ u=\S+ n=ansible \w+\| (.*)$")
# "fatal: [h]: FAILED! => {...}", "fatal: [h -> d]: UNREACHABLE! => {...}", a loop's "failed: [h] (item=x) => {...}".
FAILED_TASK = re.compile(r"^(?:fatal|failed): \[([^\]]+)\](?: \(item=.*?\))?(?:: (?:FAILED|UNREACHABLE)!)? => (\{.*\})$")
TASK_HEADER = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
# molecule's own verdict (an idempotence run that changed something fails no task).
MOLECULE_VERDICT = re.compile(r"\b(CRITICAL|ERROR)\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failed_tasks(ansible_log, limit=3):
    """The last failures an Ansible log shows, ignored ones left out, as one short line each."""
    messages = [logged.group(1) for logged in map(LOGGED.match, ansible_log.splitlines()) if logged]
    found, task, task_number = [], None, 0
    for message in messages:
        header = TASK_HEADER.match(message)
        if header:
            task, task_number = header.group(1), task_number + 1
        if message == "...ignoring":  # after a task's last item: every failure of that task was ignored
            found = [(number, text) for number, text in found if number != task_number]
        failure = FAILED_TASK.match(message)
        if not failure:
            continue
        try:
            answer = json.loads(failure.group(2))
        except ValueError:
            answer = {}
        # A command's msg says little ("non-zero return code", or nothing under failed_when): its output's end does.
        output = " ".join(("%s %s" % (answer.get("stderr") or "", answer.get("stdout") or "")).split())
        reason = " | ".join(part for part in (str(answer.get("msg") or ""), output[-300:]) if part)
        found.append((task_number, "%s on %s: %s" % (task, failure.group(1),
                                                     " ".join((reason or failure.group(2)).split())[:600])))
    return [text for _number, text in found[-limit:]]


def molecule_verdict(console_log, lines=4):
    """molecule's last CRITICAL or ERROR line and the ones after it, unwrapped from its console's frame."""
    plain = [ANSI.sub("", line).strip(" \u2502") for line in console_log.splitlines()]
    marks = [number for number, line in enumerate(plain) if MOLECULE_VERDICT.search(line)]
    if not marks:
        return []
    first = marks[-1]
    while first - 1 in marks:  # the verdict's first line, when it runs over several
        first -= 1
    return [line for line in plain[first:first + lines] if line]


def log_paths(scenario):
    """A scenario's console log (molecule's output) and Ansible's own log."""
    return LOGS / ("%s.log" % scenario), LOGS / ("%s-ansible.log" % scenario)


def run_lane(scenarios, passed):
    for scenario in scenarios:
        log_path, ansible_log_path = log_paths(scenario)
        ephemeral = EPHEMERAL / scenario
        shutil.rmtree(ephemeral, ignore_errors=True)
        started = time.monotonic()
        with open(log_path, "w") as log:
            rc = subprocess.call(["molecule", "test", "-s", scenario], cwd=ROOT / "extensions", stdout=log,
                                 stderr=subprocess.STDOUT, env=dict(ENV, MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
                                                                    ANSIBLE_LOG_PATH=str(ansible_log_path)))
        took = time.monotonic() - started
        with PRINTING:
            sys.stdout.write(log_path.read_text(errors="replace"))
            print("== molecule %s: %.0f s wall, %s" % (scenario, took, "passed" if rc == 0 else "FAILED rc=%d" % rc),
                  flush=True)
        if rc != 0:
            return
        passed.append(scenario)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lanes", nargs="+", help="comma-separated scenarios run one after the other")
    args = parser.parse_args(argv)
    LOGS.mkdir(parents=True, exist_ok=True)
    # A scenario that does not run (one before it in its lane failed) must not show an earlier run's logs.
    for scenario in (scenario for lane in args.lanes for scenario in lane.split(",")):
        for stale in log_paths(scenario):
            stale.unlink(missing_ok=True)
    passed = []
    lanes = [threading.Thread(target=run_lane, args=(lane.split(","), passed)) for lane in args.lanes]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    # A scenario that failed, or never ran after one failed before it in its lane.
    failures = [scenario for lane in args.lanes for scenario in lane.split(",") if scenario not in passed]
    if failures:
        for scenario in failures:
            log_path, ansible_log_path = log_paths(scenario)
            if ansible_log_path.exists():
                for failure in failed_tasks(ansible_log_path.read_text(errors="replace")):
                    print("== %s failed: %s" % (scenario, failure))
            if log_path.exists():
                for line in molecule_verdict(log_path.read_text(errors="replace")):
                    print("== %s: %s" % (scenario, line[:300]))
        print("== molecule: not passed: %s (logs in %s)" % (", ".join(failures), LOGS))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
