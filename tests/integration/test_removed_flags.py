"""The collection's table of the flags each minor removed (compat.FLAGS_REMOVED), against the real binaries: every
flag an older version's --help lists and the next one refuses ("flag provided but not defined") is in the table for
that version, and nothing the next one accepts is. A new etcd release in the cache checks the table again."""

import re
import subprocess

import pytest

from helpers import BIN_ROOT, cached_versions

from ansible_collections.etcdops.etcd.plugins.module_utils.compat import BOOLEAN_FLAGS, removed_settings
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import parse_version

# The newest cached patch of each minor, in order.
NEWEST = sorted({(v.major, v.minor): v for v in cached_versions()}.values())


def listed_flags(version):
    text = subprocess.run([str(BIN_ROOT / str(version) / "etcd"), "--help"], capture_output=True, text=True,
                          check=False)
    return set(re.findall(r"^\s+--([a-z0-9-]+)", text.stdout + text.stderr, re.M))


def refuses(version, flag):
    got = subprocess.run([str(BIN_ROOT / str(version) / "etcd"), "--%s=1" % flag, "--version"], capture_output=True,
                         text=True, check=False)
    return "flag provided but not defined" in got.stdout + got.stderr


@pytest.mark.parametrize("older, newer", list(zip(NEWEST, NEWEST[1:])), ids=lambda v: str(v))
def test_the_table_names_exactly_the_flags_the_next_minor_refuses(older, newer):
    gone = sorted(listed_flags(older) - listed_flags(newer))
    refused = [flag for flag in gone if refuses(newer, flag)]
    assert removed_settings(parse_version(str(newer)), dict.fromkeys(gone, "1")) == refused
    # Each boolean flag of the newer version is known as one (it never takes the next argument).
    text = subprocess.run([str(BIN_ROOT / str(newer) / "etcd"), "--help"], capture_output=True, text=True,
                          check=False)
    booleans = set(re.findall(r"^\s+--([a-z0-9-]+) '(?:true|false)'$", text.stdout + text.stderr, re.M))
    assert booleans <= BOOLEAN_FLAGS
