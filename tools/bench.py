"""Benchmarks of etcd_migrate that print figures (`make bench`, `BENCH_ARGS=--help`).

hop    one upgrade hop by the engine (``migrate`` without backup) against a bare
       start-until-healthy-and-stop of the same binary on a copy of the same data,
       side by side, several rounds.
large  a 3.4 -> 3.7 migration of a large data dir (default one million 1 KiB keys,
       about 1 GB): total time against the sum of bare hops plus a plain copy of the
       dir, and the engine's peak memory (the Python process, etcd excluded).
detect version detection on that large dir against `etcdutl snapshot status` on its db:
       time and peak memory.
downgrade  each downgrade through etcd's API (3.7 -> 3.6, 3.6 -> 3.5) by the engine (without
       backup) on the demo-sized data, several rounds: the step's seconds.
restore    restore.yml's work inside the downtime for one member's snapshot (default 100000 1 KiB keys): before,
       the data dir moved aside, `etcdutl snapshot restore` and version.txt and owner written with etcd
       stopped; now, etcd_data_restore's swap (renames) after its prepare staged all that while etcd ran.
rolling    the molecule scenario `rolling` (three members, TLS, a writer; about 10 minutes): per hop and
       member the switch's downtime next to a bare restart of the same binary on that member, their ratio,
       and each upgrade.yml run's total seconds.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import etcd_binaries  # noqa: E402
from etcd_sample import free_port, running_etcd, write_sample_data  # noqa: E402
from ansible_collections.etcdops.etcd.plugins.module_utils.data_restore import DataRestore  # noqa: E402
from ansible_collections.etcdops.etcd.plugins.module_utils.engine import migrate  # noqa: E402

BIN = etcd_binaries.cache_root()
QUOTA = 8 * 1024 ** 3


def bare_start_stop(version, data_dir, log, extra=()):
    """Start etcd, poll /health until it answers healthy, SIGTERM, wait: the floor for a hop."""
    port, peer = free_port(), "http://127.0.0.1:%d" % free_port()
    started = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(BIN / version / "etcd"), "--data-dir", str(data_dir),
                                 "--listen-client-urls", "http://127.0.0.1:%d" % port,
                                 "--advertise-client-urls", "http://127.0.0.1:%d" % port,
                                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                 "--initial-cluster", "default=%s" % peer] + list(extra), stdout=out, stderr=out)
    try:
        while True:
            probe = subprocess.run(["curl", "-sf", "http://127.0.0.1:%d/health" % port], capture_output=True,
                                   check=False)
            if probe.returncode == 0 and b'"true"' in probe.stdout:
                break
            if proc.poll() is not None:
                raise SystemExit("etcd %s exited; see %s" % (version, log))
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    return time.monotonic() - started


def engine(data_dir, target, **extra):
    params = {"data_dir": str(data_dir), "target_version": target, "bin_dir": str(BIN),
              "client_port": free_port(), "listen_peer_urls": "http://127.0.0.1:%d" % free_port()}
    params.update(extra)
    started = time.monotonic()
    result = migrate(params)
    return time.monotonic() - started, result


def bench_hop(args, work):
    source, target = "3.4.23", etcd_binaries.newest_cached("3.5")
    pristine = work / "pristine"
    with running_etcd(BIN, source, pristine, work) as member:
        write_sample_data(member, keys=args.hop_keys)
    (pristine / "version.txt").write_text("%s/etcd3" % source)
    rows = []
    for round_no in range(args.rounds):
        for kind in ("engine", "bare"):
            copy = work / ("%s-%d" % (kind, round_no))
            shutil.copytree(pristine, copy)
            if kind == "engine":
                seconds, _result = engine(copy, target, backup=False)
            else:
                seconds = bare_start_stop(target, copy, work / "bare.log")
            rows.append((kind, seconds))
            shutil.rmtree(copy)
    eng = [s for k, s in rows if k == "engine"]
    bare = [s for k, s in rows if k == "bare"]
    print("hop %s -> %s, %d keys, %d rounds" % (source, target, args.hop_keys, args.rounds))
    print("  engine hop  median %.3fs  (min %.3f, max %.3f)" % (statistics.median(eng), min(eng), max(eng)))
    print("  bare start  median %.3fs  (min %.3f, max %.3f)" % (statistics.median(bare), min(bare), max(bare)))
    print("  ratio engine/bare (medians): %.2fx  (goal <= 1.2x)" % (statistics.median(eng) / statistics.median(bare)))


def bench_downgrade(args, work):
    newest = dict((m, etcd_binaries.newest_cached(m)) for m in ("3.5", "3.6", "3.7"))
    pristine = work / "pristine"
    with running_etcd(BIN, "3.4.23", pristine, work) as member:
        write_sample_data(member, keys=args.hop_keys)
    (pristine / "version.txt").write_text("3.4.23/etcd3")
    engine(pristine, newest["3.7"], backup=False)
    print("downgrade through etcd's API, %d keys, %d rounds" % (args.hop_keys, args.rounds))
    for source, target in (("3.7", "3.6"), ("3.6", "3.5")):
        seconds = []
        for round_no in range(args.rounds):
            copy = work / ("down-%s-%d" % (target, round_no))
            shutil.copytree(pristine, copy)
            _total, result = engine(copy, newest[target], backup=False)
            seconds.append(result["steps"][0]["seconds"])
            shutil.rmtree(copy)
        print("  %s -> %s  median %.3fs  (min %.3f, max %.3f; goal <= 2s)"
              % (newest[source], newest[target], statistics.median(seconds), min(seconds), max(seconds)))
        if source == "3.7":
            engine(pristine, newest["3.6"], backup=False)


def bench_rolling(work):
    report = work / "rolling.json"
    root = Path(__file__).resolve().parent.parent
    subprocess.run(["bash", "tools/molecule-env.sh"], cwd=root, check=True)
    # As make molecule runs it (molecule_run.py: a fresh ephemeral directory, the log printed whole).
    subprocess.run(["bash", "-c", '. .cache/podman/molecule.env && exec "$0" tools/molecule_run.py rolling',
                    sys.executable], cwd=root, check=True, env=dict(os.environ, ETCDOPS_ROLLING_REPORT=str(report)))
    figures = json.loads(report.read_text())
    print("rolling scenario: %d acknowledged writes, %d failed attempts"
          % (figures["acknowledged_writes"], figures["failed_write_attempts"]))
    for run in ("upgrade", "downgrade"):
        print("  %s run: %.1fs in all (goal for the 3.4 -> 3.7 upgrade <= 90s)" % (run, figures[run]["seconds"]))
        # Where each downtime went (etcd_member_switch's phases, seconds from the stop), the switch's and then the
        # bare restart's: the stop itself (etcd 3.5+ takes about 1 s to close its peer server, or not), the check
        # (3.5 -> 3.6) and version.txt, systemctl start, and the health poll until the member answered.
        print("    %-8s %-8s %9s %9s %7s   %s" % (
            "hop", "member", "switch s", "bare s", "ratio", "stop / check+record / start / healthy (switch | bare)"))
        for row in figures[run]["downtime"]:
            bare, ratio = row.get("bare_restart_seconds", 0), row.get("ratio", 0)
            print("    %-8s %-8s %9.2f %9.2f %6.2fx   %s | %s" % (
                row["hop"], row["member"][:8], row["seconds"], bare, ratio, spans(row.get("phases")),
                spans(row.get("bare_phases"))))
    print("  goal: every ratio <= 1.5x")


def spans(phases):
    """etcd_member_switch's phases (seconds from the stop at which each ended) as the seconds each took."""
    steps = [(phases or {}).get(name) for name in ("stopped", "recorded", "started", "healthy")]
    if None in steps:
        return ""
    return " / ".join("%.2f" % (end - begin) for begin, end in zip([0] + steps, steps))


def fill(member, keys, value_size, batch):
    """Many keys through etcdctl txn, ``batch`` puts per transaction."""
    value = "v" * value_size
    for start in range(0, keys, batch):
        ops = "".join('put /bench/%09d "%s"\n' % (i, value) for i in range(start, min(start + batch, keys)))
        # txn reads compares, then success ops, then failure ops, each ended by an empty line
        subprocess.run([member.tools.path("etcdctl"), "--endpoints", member.client_url, "txn"],
                       input="\n" + ops + "\n\n", text=True, capture_output=True, check=True, timeout=300)


def large_dir(args, work):
    """The large 3.4.23 data dir, written once per work dir and reused."""
    pristine = work / "large"
    if (pristine / "version.txt").exists():
        return pristine
    shutil.rmtree(pristine, ignore_errors=True)
    started = time.monotonic()
    extra = ["--max-txn-ops", str(args.batch), "--max-request-bytes", str(args.batch * (args.value_size + 64) + 4096),
             "--quota-backend-bytes", str(QUOTA)]
    with running_etcd(BIN, "3.4.23", pristine, work, extra_args=extra) as member:
        fill(member, args.keys, args.value_size, args.batch)
    (pristine / "version.txt").write_text("3.4.23/etcd3")
    elapsed = time.monotonic() - started
    print("large data dir: %d keys of %d bytes written in %.0fs" % (args.keys, args.value_size, elapsed))
    return pristine


def sizes(data_dir):
    db = (data_dir / "member" / "snap" / "db").stat().st_size
    wal = sum(p.stat().st_size for p in (data_dir / "member" / "wal").glob("*.wal"))
    return "db %.0f MB, WAL %.0f MB" % (db / 1e6, wal / 1e6)


def bench_large(args, work):
    hops = [etcd_binaries.newest_cached(m) for m in ("3.5", "3.6", "3.7")]
    pristine = large_dir(args, work)
    print("large migration 3.4.23 -> %s on %s" % (hops[-1], sizes(pristine)))
    baseline = work / "baseline"
    shutil.rmtree(baseline, ignore_errors=True)
    t0 = time.monotonic()
    shutil.copytree(pristine, baseline)
    copy_seconds = time.monotonic() - t0
    # The same --snapshot-count=1 the engine uses: without it 3.6 panics on the v2 entries 3.4 left in the WAL.
    quota = ["--quota-backend-bytes", str(QUOTA)]
    bare = [bare_start_stop(v, baseline, work / "bare.log", ["--snapshot-count", "1"] + quota) for v in hops]
    shutil.rmtree(baseline)

    subject = work / "subject"
    shutil.rmtree(subject, ignore_errors=True)
    shutil.copytree(pristine, subject)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds, result = engine(subject, hops[-1], backup_dir=str(work / "backups"), timeout=600,
                             server_extra_args=quota)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    floor = copy_seconds + sum(bare)
    print("  plain copy %.2fs + bare hops %s = %.2fs" % (copy_seconds, " + ".join("%.2f" % b for b in bare), floor))
    print("  engine (backup included): %.2fs, steps %s" % (
        seconds, json.dumps([(s["to"], s["seconds"]) for s in result["steps"]])))
    print("  ratio engine/(copy + bare hops): %.2fx  (goal <= 1.3x)" % (seconds / floor))
    print("  engine peak RSS %.1f MB (%.1f MB before the run; goal <= 100 MB)" % (peak_kb / 1024, before / 1024))
    shutil.rmtree(subject)
    shutil.rmtree(work / "backups", ignore_errors=True)


# Peak memory from VmHWM: ru_maxrss would carry the parent's high-water mark over fork and exec.
DETECT = """
import os, sys, time
sys.path.insert(0, sys.argv[2])
from ansible_collections.etcdops.etcd.plugins.module_utils import detect
from ansible_collections.etcdops.etcd.plugins.module_utils.ondisk import wal
db = os.path.join(sys.argv[1], "member", "snap", "db")
t = time.perf_counter(); r = detect.detect(sys.argv[1]); t = time.perf_counter() - t
t_db = time.perf_counter(); detect._read_db(db, False); t_db = time.perf_counter() - t_db
t_wal = time.perf_counter(); wal.WalInfo(os.path.join(sys.argv[1], "member", "wal")); t_wal = time.perf_counter() - t_wal
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print("%.1f %.1f %s %.1f %.1f" % (t * 1000, int(hwm) / 1024, r["version"], t_db * 1000, t_wal * 1000))
"""


def peak_rss_of(command):
    """Run a command; (seconds, peak RSS MB of that child alone)."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit("%s failed" % command)
    return time.monotonic() - started, usage.ru_maxrss / 1024


def bench_detect(args, work):
    pristine = large_dir(args, work)
    collections = str(Path(__file__).resolve().parent.parent / ".cache" / "collections")
    rows = []
    for _round in range(args.rounds):
        out = subprocess.run([sys.executable, "-c", DETECT, str(pristine), collections], check=True,
                             capture_output=True, text=True).stdout.split()
        rows.append((float(out[0]), float(out[1]), out[2], float(out[3]), float(out[4])))
    tool_version = etcd_binaries.newest_cached("3.5")
    seconds, rss = peak_rss_of([str(BIN / tool_version / "etcdutl"), "snapshot", "status",
                                str(pristine / "member" / "snap" / "db"), "-w", "json"])
    print("detection on %s, %d rounds" % (sizes(pristine), args.rounds))
    print("  detect(): median %.1f ms (bbolt part %.1f ms, WAL part %.1f ms), peak RSS %.1f MB (whole Python "
          "process), version %s  (goal < 50 ms, < 50 MB)"
          % (statistics.median(r[0] for r in rows), statistics.median(r[3] for r in rows),
             statistics.median(r[4] for r in rows), max(r[1] for r in rows), rows[0][2]))
    print("  etcdutl %s snapshot status on the same db: %.0f ms, peak RSS %.1f MB" % (tool_version, seconds * 1000, rss))


def bench_restore(args, work):
    version = "3.5.35"
    pristine, snapshot = work / "pristine", work / "snapshot.db"
    extra = ["--max-txn-ops", str(args.batch), "--max-request-bytes", str(args.batch * (args.value_size + 64) + 4096),
             "--quota-backend-bytes", str(QUOTA)]
    with running_etcd(BIN, version, pristine, work, extra_args=extra) as member:
        fill(member, args.restore_keys, args.value_size, args.batch)
        subprocess.run([member.tools.path("etcdctl"), "--endpoints", member.client_url, "snapshot", "save",
                        str(snapshot)], capture_output=True, check=True)
    (pristine / "version.txt").write_text("%s/etcd3" % version)
    peer = "http://127.0.0.1:2380"
    settings = ["--name", "default", "--initial-cluster", "default=" + peer, "--initial-cluster-token", "bench",
                "--initial-advertise-peer-urls", peer]
    print("restore: snapshot of %d keys, %.0f MB; seconds of work with etcd stopped" % (
        args.restore_keys, snapshot.stat().st_size / 1e6))
    before, now = [], []
    for round_ in range(args.rounds):
        data = work / ("round-%d" % round_) / "data"
        data.parent.mkdir()
        subprocess.run(["cp", "-a", str(pristine), str(data)], check=True)
        started = time.monotonic()  # restore.yml before: mv, restore, version.txt, chown -R
        os.rename(data, str(data) + ".before-restore-old")
        subprocess.run([str(BIN / version / "etcdutl"), "snapshot", "restore", str(snapshot), "--data-dir",
                        str(data)] + settings, capture_output=True, check=True)
        (data / "version.txt").write_text("%s/etcd3" % version)
        for directory, _dirs, files in os.walk(data):
            for name in [""] + files:
                os.chown(os.path.join(directory, name), os.getuid(), os.getgid())
        before.append(time.monotonic() - started)
        shutil.rmtree(data)
        os.rename(str(data) + ".before-restore-old", data)
        restore = DataRestore(str(data), str(snapshot), str(BIN), version, "default", "default=" + peer, "bench",
                              peer, stamp="20260101T000000Z")
        restore.prepare()
        now.append(restore.swap()["seconds"])
        shutil.rmtree(data.parent)
    for label, seconds in (("before (restore with etcd stopped)", before), ("now (swap by renames)", now)):
        rounds = " ".join("%.3f" % t for t in seconds)
        print("  %-35s median %.3f s  %s" % (label + ":", statistics.median(seconds), rounds))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", choices=["hop", "large", "detect", "downgrade", "restore", "rolling"], default=["hop"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hop-keys", type=int, default=200)
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--restore-keys", type=int, default=100000)
    parser.add_argument("--work-dir", help="where data dirs go (default: a temp dir, removed after)")
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="etcd-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if "hop" in args.which:
            (work / "hop").mkdir(exist_ok=True)
            bench_hop(args, work / "hop")
        if "large" in args.which:
            bench_large(args, work)
        if "detect" in args.which:
            bench_detect(args, work)
        if "downgrade" in args.which:
            (work / "downgrade").mkdir(exist_ok=True)
            bench_downgrade(args, work / "downgrade")
        if "restore" in args.which:
            (work / "restore").mkdir(exist_ok=True)
            bench_restore(args, work / "restore")
        if "rolling" in args.which:
            bench_rolling(work)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
