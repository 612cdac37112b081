# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Which members keep their IDs through a restore.

etcd makes a member's ID from its peer URLs and the cluster token when it bootstraps a cluster, and ``snapshot
restore`` makes it the same way; ``member add`` also mixes in the time. So a restore gives a running member its ID
again only when that member was made from the same peer URLs and token (measured on 3.3.25 to 3.7.3:
tests/integration/test_member_ids.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import struct


def bootstrap_member_id(peer_urls, token):
    """The ID etcd gives a member with ``peer_urls`` in a cluster bootstrapped or restored with ``token``: the first
    8 bytes, big-endian, of SHA-1 over the sorted peer URLs joined, then the token."""
    digest = hashlib.sha1(("".join(sorted(peer_urls)) + token).encode("utf-8")).digest()
    return struct.unpack(">Q", digest[:8])[0]


def ids_not_kept(members, restored_peer_urls, token):
    """The names (or hexadecimal IDs) of the running ``members`` (``member list``'s) whose IDs a restore of the
    members with ``restored_peer_urls`` (each member's peer URLs, comma-separated) and ``token`` does not give."""
    restored = set(bootstrap_member_id([url.strip() for url in urls.split(",") if url.strip()], token)
                   for urls in restored_peer_urls)
    return sorted(member.get("name") or "%x" % int(member["ID"]) for member in members
                  if int(member["ID"]) not in restored)
