"""`make matrix`: the support window, ansible-core 2.18 to 2.21, one reused venv per version under .cache/matrix.

On every version the modules and filters play (tools/matrix.yml) runs on loopback with the real etcd binaries:
a data dir etcd 3.4.23 wrote is read, planned in check mode, migrated to 3.5 and left alone on a second run.
Sanity (tools/ansible_test.sh, with that version's ignore file) runs on the oldest and the newest. The versions
run side by side (each its own venv, work dir and sanity tree), each one's output printed whole when it ends.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import etcd_binaries
from etcd_sample import free_port, running_etcd, write_sample_data

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / ".cache" / "matrix"
# ansible-core pin and the controller Python it runs on (2.20 and later need 3.12 or newer).
CORES = {"2.18": ("2.18.19", "3.11"), "2.19": ("2.19.14", "3.11"),
         "2.20": ("2.20.10", "3.12"), "2.21": ("2.21.5", "3.13")}
SANITY_ON = ("2.18", "2.21")
SOURCE, TARGET = "3.4.23", "3.5.35"


def dev_pin(name):
    """The version requirements-dev.txt pins, so every venv runs the same library as the dev venv."""
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.startswith(name + "=="):
            return line.strip()
    sys.exit("requirements-dev.txt pins no %s" % name)


def find_python(minor):
    """An interpreter of that minor: pyenv's installs first (its shims fail outside a pyenv version), then PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    installed = sorted(glob.glob(os.path.join(pyenv_root, "versions", minor + ".*", "bin", "python" + minor)),
                       key=lambda p: int(Path(p).parents[1].name.split(".")[2]))
    on_path = shutil.which("python" + minor)
    if installed:
        return installed[-1]
    if on_path and "/shims/" not in on_path:
        return on_path
    sys.exit("no Python %s here: install it (pyenv install %s, or apt-get install python%s)" % (minor, minor, minor))


def venv_for(series):
    """The venv of one ansible-core series, made once and reused while its pins are the same."""
    core, minor = CORES[series]
    venv = MATRIX / ("ansible-core-" + series)
    wanted = "ansible-core==%s %s python%s\n" % (core, dev_pin("semver"), minor)
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([find_python(minor), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "ansible-core==" + core,
                    dev_pin("semver")], check=True)
    stamp.write_text(wanted)
    return venv


def written_data_dir(work):
    """A data dir etcd SOURCE wrote, on loopback, with its version.txt."""
    data_dir = work / "pristine"
    with running_etcd(etcd_binaries.cache_root(), SOURCE, data_dir, work) as member:
        write_sample_data(member)
    (data_dir / "version.txt").write_text("%s/etcd3" % SOURCE)
    return data_dir


def run_play(venv, pristine, work):
    data_dir = work / "data"
    shutil.copytree(pristine, data_dir)
    python = venv / "bin" / "python"
    extra = {"matrix_data_dir": str(data_dir), "matrix_target": TARGET, "matrix_source": SOURCE,
             "matrix_source_minor": SOURCE.rsplit(".", 1)[0], "matrix_bin_dir": str(etcd_binaries.cache_root()),
             "matrix_client_port": free_port(), "matrix_peer_url": "http://127.0.0.1:%d" % free_port(),
             "matrix_backup_dir": str(work / "backups"), "ansible_python_interpreter": str(python)}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(venv / "bin" / "ansible-playbook"), str(ROOT / "tools" / "matrix.yml"),
                           "-e", json.dumps(extra)], env=env, text=True, capture_output=True, check=False)


def check_series(name, pristine, work):
    """venv, play and (oldest and newest) sanity of one series: its summary line and its output."""
    start = time.monotonic()
    venv = venv_for(name)
    ready = time.monotonic()
    proc = run_play(venv, pristine, work / name)
    played = time.monotonic()
    output = proc.stdout[-6000:] + proc.stderr[-3000:] if proc.returncode != 0 else ""
    line = ["ansible-core %s" % CORES[name][0], "python %s" % CORES[name][1],
            "venv %.0fs" % (ready - start), "play %s %.0fs" % ("ok" if proc.returncode == 0 else "FAILED",
                                                               played - ready)]
    if name in SANITY_ON:
        sanity = subprocess.run(["bash", str(ROOT / "tools" / "ansible_test.sh"), str(venv / "bin" / "python"),
                                 "sanity", "--requirements"], text=True, capture_output=True, check=False)
        output += sanity.stdout + sanity.stderr
        line.append("sanity %s %.0fs" % ("ok" if sanity.returncode == 0 else "FAILED", time.monotonic() - played))
    return line, output


def main(argv):
    series = argv or list(CORES)
    MATRIX.mkdir(parents=True, exist_ok=True)
    work = MATRIX / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    pristine = written_data_dir(work)
    results, printing = {}, threading.Lock()

    def run(name):
        try:
            line, output = check_series(name, pristine, work)
        except BaseException as error:  # sys.exit() in a thread would end it without a word
            line, output = ["ansible-core %s" % CORES[name][0], "FAILED: %r" % error], ""
        with printing:
            print(output + "== " + ", ".join(line), flush=True)
        results[name] = line

    threads = [threading.Thread(target=run, args=(name,)) for name in series]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = ["ansible-core %s" % CORES[name][0] for name in series
              if name not in results or any("FAILED" in part for part in results[name])]
    print("== matrix: %d of %d ansible-core versions pass%s" % (
        len(series) - len(failed), len(series), "; failed: " + ", ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
