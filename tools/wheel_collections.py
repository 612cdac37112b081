"""Collections the scenarios and the pki role need, taken from the pinned ``ansible`` wheel (Galaxy is unreachable).

Usage: wheel_collections.py <collections dir> <namespace.name>...  Extracts only what is missing.
"""

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ANSIBLE_WHEEL = "ansible==12.3.0"


def main(target, names):
    root = Path(target)
    missing = [n for n in names if not (root / "ansible_collections" / n.replace(".", "/") / "MANIFEST.json").exists()]
    if not missing:
        return
    with tempfile.TemporaryDirectory() as wheel_dir:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", wheel_dir, ANSIBLE_WHEEL],
                       check=True)
        wheel = next(Path(wheel_dir).glob("ansible-*.whl"))
        prefixes = tuple("ansible_collections/%s/" % n.replace(".", "/") for n in missing)
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith(prefixes):
                    archive.extract(name, root)
    print("collections from %s: %s" % (ANSIBLE_WHEEL, ", ".join(missing)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
