"""The lanes of `make test`: run one and keep its output, then say how each ended, in the last lines.

CI shows only the end of the output, and make prints each lane whole when it ends (make -O): a lane that failed
early is far above the end. So each lane's output is kept too, and the summary printed last names every lane's
verdict and the lines of a failed lane that say why (pytest's FAILED/ERROR lines, the molecule runner's failures).

    python tools/lanes.py clear pytest matrix checks molecule
    python tools/lanes.py run pytest -- python -m pytest ...
    python tools/lanes.py summary pytest matrix checks molecule
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

LANES = Path(__file__).resolve().parent.parent / ".cache" / "lanes"
# The lines of a failed lane that say why: pytest's short summary, counts and interruptions; the molecule runner's and
# the matrix's verdicts; Ansible's errors (2.18's "ERROR!", 2.19+'s "[ERROR]:", failed tasks and loop items);
# ansible-lint's and vermin's verdicts; ansible-test's errors. make's own "*** ... Error N" says only which lane.
WHY = re.compile(r"^(FAILED |ERROR |!+ Interrupted|=* ?(?=[^=]*\b(failed|errors?)\b)\d+ \w+.* in [\d.]+s|"
                 r"== .*(failed|not passed)|fatal: |failed: \[|CRITICAL |ERROR: |ERROR! |\[ERROR\]: |"
                 r"Failed: \d+ failure|Target versions not met)", re.IGNORECASE)
MAKE = re.compile(r"^make(\[\d+\])?: ")
WIDTH = 400
MOST = 12


def run(name, command):
    """Run ``command``, its output passed through and kept; exit with its status, which is kept too."""
    LANES.mkdir(parents=True, exist_ok=True)
    with open(LANES / ("%s.log" % name), "wb") as kept:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in proc.stdout:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            kept.write(line)
        status = proc.wait()
    (LANES / ("%s.rc" % name)).write_text("%d\n" % status)
    return status


def why(log_text):
    """The lines of a lane's output that say why it failed, the last ones, each cut to a readable width."""
    lines = [line[:WIDTH] for line in log_text.splitlines() if WHY.match(line)]
    return lines[-MOST:] or [line[:WIDTH] for line in log_text.splitlines() if not MAKE.match(line)][-3:]


def summary(names):
    """One line per lane, then why each failed one failed; non-zero when any lane failed or did not run."""
    verdicts, reasons, failed = [], [], False
    for name in names:
        rc_path, log_path = LANES / ("%s.rc" % name), LANES / ("%s.log" % name)
        if not rc_path.exists():
            verdicts.append("%s did not run" % name)
            failed = True
            continue
        status = int(rc_path.read_text())
        if status == 0:
            verdicts.append("%s passed" % name)
            continue
        failed = True
        verdicts.append("%s FAILED (exit %d)" % (name, status))
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        reasons += ["== %s: %s" % (name, line) for line in why(text)]
    print("== lanes: " + ", ".join(verdicts))
    for line in reasons:
        print(line)
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    running = sub.add_parser("run")
    running.add_argument("name")
    running.add_argument("command", nargs=argparse.REMAINDER)
    for action in ("clear", "summary"):
        sub.add_parser(action).add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    if args.action == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return run(args.name, command)
    if args.action == "clear":  # a lane that does not run this time must not show its last run
        for name in args.names:
            for path in (LANES / ("%s.rc" % name), LANES / ("%s.log" % name)):
                path.unlink(missing_ok=True)
        return 0
    return summary(args.names)


if __name__ == "__main__":
    sys.exit(main())
