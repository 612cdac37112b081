"""A local etcd release mirror built from the binary cache.

``build`` lays the cached binaries out the way etcd's releases are:
``v<ver>/etcd-v<ver>-linux-<arch>.tar.gz`` holding
``etcd-v<ver>-linux-<arch>/{etcd,etcdctl,etcdutl}``, with a ``SHA256SUMS`` per
release.  Archives are reproducible (fixed mtimes), so a rebuild of an
unchanged cache changes nothing.  ``serve`` serves such a tree over HTTP on a
given address (loopback by default) and writes the bound port to a file, so
tests start it on a free port and stop it by PID.
"""

import argparse
import functools
import gzip
import hashlib
import http.server
import io
import os
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import etcd_binaries  # noqa: E402  (the one place that knows the cache)

ARCH = "amd64"  # this machine's arch: the cache's own; other arches come from the other-arches cache


def archive_bytes(version, source_dir, arch):
    top = f"etcd-v{version}-linux-{arch}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        folder = tarfile.TarInfo(top)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name in etcd_binaries.BINARIES:
            path = source_dir / name
            if not path.exists():
                continue
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = path.stat().st_size, 0o755
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    packed = io.BytesIO()
    # A mirror on this machine for tests: building speed over size (level 6: 2.6 times as long, 6% smaller).
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=1) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def build(out_dir, versions=None, arch=ARCH):
    """Write the mirror tree for the cached versions of ``arch`` (all by default); returns them."""
    root = etcd_binaries.cache_root() if arch == ARCH else etcd_binaries.other_arch_root(arch)
    versions = sorted(versions or etcd_binaries.load_manifest(root)["versions"])
    missing = [v for v in versions if not (root / v / "etcd").is_file()]
    if not versions or missing:
        fix = "make etcd-binaries" if arch == ARCH else "python tools/etcd_binaries.py --other-arches " + arch
        raise SystemExit(f"no {arch} etcd {', '.join(missing) or '(none cached)'} in {root}: run `{fix}` first")
    for version in versions:
        release = Path(out_dir) / f"v{version}"
        release.mkdir(parents=True, exist_ok=True)
        name = f"etcd-v{version}-linux-{arch}.tar.gz"
        data = archive_bytes(version, root / version, arch)
        target = release / name
        if not target.exists() or target.read_bytes() != data:
            tmp = release / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, target)
        sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                       for p in sorted(release.glob("*.tar.gz")))
        (release / "SHA256SUMS").write_text(sums)
    return versions


def serve(directory, address, port_file):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    tmp = Path(f"{port_file}.tmp")
    tmp.write_text(str(server.server_address[1]))
    os.replace(tmp, port_file)
    server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="lay the cache out as etcd releases")
    build_cmd.add_argument("out_dir")
    build_cmd.add_argument("versions", nargs="*", help="versions to lay out (default: every cached one)")
    build_cmd.add_argument("--arch", default=ARCH, choices=[ARCH, *sorted(etcd_binaries.OTHER_ARCHES)],
                           help="whose binaries (other arches: `etcd_binaries.py --other-arches` first)")
    serve_cmd = sub.add_parser("serve", help="serve a mirror tree over HTTP")
    serve_cmd.add_argument("out_dir")
    serve_cmd.add_argument("--address", default="127.0.0.1")
    serve_cmd.add_argument("--port-file", required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        for version in build(args.out_dir, args.versions, args.arch):
            print(f"v{version}")
    else:
        serve(args.out_dir, args.address, args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
