"""The execution environment definition: ansible-builder's build context from it, and what it reads from the
collection (the image itself is built by make ee, with podman)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

BIN = Path(sys.executable).parent


def test_the_build_context_installs_the_built_collection_with_its_needs_on_the_debian_image(tmp_path):
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    crypto = Path("ansible_collections", "community", "crypto")
    shutil.copytree(ROOT / ".cache" / "collections" / crypto, tmp_path / ".cache" / "collections" / crypto)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path",
                    str(tmp_path / ".cache" / "build"), str(ROOT)], check=True, capture_output=True)
    subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context"],
                   cwd=tmp_path, check=True, capture_output=True)
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "ARG EE_BASE_IMAGE=\"localhost/etcdops-base:bookworm-1\"" in containerfile
    assert "ARG PKGMGR=\"/usr/bin/apt-get\"" in containerfile
    assert "apt-get install -y -q --no-install-recommends python3-pip" in containerfile
    tarball = tmp_path / "context" / "_build" / "collections" / "etcdops-etcd-0.1.0.tar.gz"
    assert tarball.is_file()
    requirements = (tmp_path / "context" / "_build" / "requirements.yml").read_text()
    assert "collections/etcdops-etcd-0.1.0.tar.gz" in requirements

    installed = tmp_path / "installed"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(installed),
                    "-r", str(tmp_path / "context" / "_build" / "requirements.yml")], cwd=tmp_path / "context" / "_build",
                   env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed)), check=True, capture_output=True)
    assert (installed / "ansible_collections" / "community" / "crypto" / "MANIFEST.json").is_file()
    needs = subprocess.run([str(BIN / "ansible-builder"), "introspect", "--sanitize", str(installed)],
                           check=True, capture_output=True, text=True).stdout
    assert "semver>=2.10,<4  # from collection etcdops.etcd" in needs
    assert "tar [platform:dpkg platform:rpm]  # from collection etcdops.etcd" in needs
