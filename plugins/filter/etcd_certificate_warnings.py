# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_certificate_warnings
short_description: A warning for each certificate that expires soon, saying how to renew it
version_added: "0.1.0"
description:
  - For the rolling pre-flight - each certificate of O(_input) that expires within O(days) days (or has expired)
    gives a warning naming the file, the date and how to renew it.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description:
      - The certificates, path to C(not_after) (ASN.1 time C(YYYYMMDDHHMMSSZ), as community.crypto's
        x509_certificate_info gives it).
    type: dict
    required: true
  days:
    description: How many days ahead to warn.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Warn about the member's certificates
  ansible.builtin.debug:
    msg: "{{ {'/etc/etcd/pki/server.crt': '20270101000000Z'} | etcdops.etcd.etcd_certificate_warnings }}"
"""

RETURN = r"""
_value:
  description: The warnings, none when every certificate is valid for O(days) more days.
  type: list
  elements: str
"""

from ansible_collections.etcdops.etcd.plugins.plugin_utils.tls import certificate_warnings


def etcd_certificate_warnings(certificates, days=30):
    return certificate_warnings(certificates, days=int(days))


class FilterModule:
    def filters(self):
        return {"etcd_certificate_warnings": etcd_certificate_warnings}
