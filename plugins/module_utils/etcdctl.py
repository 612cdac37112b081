# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""One etcdctl call of the collection: which subcommands only read, what the call's output says, and why it was refused.

Credentials reach etcdctl in its own environment only (ClientAccess: ``ETCDCTL_USER=user:password``, which etcdctl
3.3-3.7 all read), never in its argv, which every local user sees in ``ps``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# Subcommands that change nothing, neither in etcd nor on the host: they run in check mode.
READ_ONLY = (
    ("alarm", "list"), ("auth", "status"), ("downgrade", "validate"), ("endpoint",), ("get",), ("lease", "list"),
    ("lease", "timetolive"), ("member", "list"), ("role", "get"), ("role", "list"), ("snapshot", "status"),
    ("user", "get"), ("user", "list"), ("version",),
)

# etcd's answers when the call lacks a user, has a wrong password, or the user lacks the root role (3.4-3.7).
NO_USER = "user name is empty"
WRONG_PASSWORD = "authentication failed"
NOT_ROOT = ("permission denied", "root user does not have root role")


def subcommand(argv):
    """The subcommand's words, before its first flag or argument that is not a word of it."""
    words = []
    for word in argv:
        if word.startswith("-") or len(words) == 2:
            break
        words.append(word)
    return tuple(words)


def is_read_only(argv):
    words = subcommand(argv)
    return any(words[:len(prefix)] == prefix for prefix in READ_ONLY)


def wants_json(argv):
    return any(a in ("-w=json", "--write-out=json") for a in argv) or any(
        a in ("-w", "--write-out") and b == "json" for a, b in zip(argv, argv[1:]))


def parse_json(stdout):
    """etcdctl's ``-w json`` answer, or None when it printed something else (an error, nothing)."""
    try:
        return json.loads(stdout)
    except ValueError:
        return None


def auth_refusal(output, user, password_given):
    """Why etcd refused the call for auth, naming the role variables that fix it; None when it did not."""
    if NO_USER in output:
        return ("etcd has auth enabled and the call went without a user: give its root user's password as "
                "etcd_root_password (and its name as etcd_root_user when it is not root), from a vault")
    if WRONG_PASSWORD in output:
        return ("etcd refused user %s's password: etcd_root_password (with etcd_root_user=%s) is not that user's "
                "password" % (user, user))
    if any(answer in output for answer in NOT_ROOT):
        if not password_given:
            return ("etcd refused the call without a user: give its root user's password as etcd_root_password "
                    "(and its name as etcd_root_user when it is not root), from a vault")
        return ("etcd refused the call to user %s, which needs etcd's root role for it: set etcd_root_user to a "
                "user with the root role (etcdctl user grant-role %s root) and etcd_root_password to its password"
                % (user, user))
    return None
