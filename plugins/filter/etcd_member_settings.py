# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_member_settings
short_description: A running member's settings by etcd's rules, from what its process was given
version_added: "0.2.0"
description:
  - Applies etcd's rules to M(etcdops.etcd.etcd_member_process)'s reading of a member the collection did not
    install - a configuration file replaces every flag and variable; otherwise flags and C(ETCD_*) variables add
    up (etcd refuses one setting given by both); relative paths are relative to the working directory; no
    C(data-dir) means C(<name>.etcd) there - and says how the collection calls the member.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description: M(etcdops.etcd.etcd_member_process)'s result.
    type: dict
    required: true
  ca_file:
    description: The CA that verifies the member's certificate; V("") - the member's C(trusted-ca-file).
    type: str
    default: ""
  cert_file:
    description: The collection's client certificate; V("") - the member's own pair when it requires one.
    type: str
    default: ""
  key_file:
    description: The key of O(cert_file).
    type: str
    default: ""
  certificate_names:
    description:
      - The subject alternative names of the certificate the member serves clients with (C(DNS:name),
        C(IP:address), as P(community.crypto.x509_certificate_info#filter) gives them). Over TLS the endpoint is
        then the first candidate that certificate is valid for, and none is an error naming the certificate.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: The Debian package's member, as etcd reads its settings
  ansible.builtin.debug:
    msg: "{{ etcd_process | etcdops.etcd.etcd_member_settings }}"
"""

RETURN = r"""
_value:
  description:
    - C(settings) (each setting by its flag name, TLS sections of a configuration file as their flags) and
      C(sources) (C(flag), C(environment (ETCD_NAME)), C(configuration file PATH) or etcd's default);
      C(data_dir), C(wal_dir), C(cert_file), C(peer_cert_file); and the collection's access - C(endpoint) (a
      loopback client URL, or the first advertised one; over TLS with O(certificate_names), the first its
      certificate is valid for), C(scheme), C(client_ca_file), C(client_cert_file),
      C(client_key_file).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.etcdops.etcd.plugins.module_utils.member_process import SettingsError
from ansible_collections.etcdops.etcd.plugins.plugin_utils.member_settings import member_settings


def etcd_member_settings(process, ca_file="", cert_file="", key_file="", certificate_names=()):
    try:
        return member_settings(process, ca_file, cert_file, key_file, certificate_names)
    except SettingsError as error:
        raise AnsibleFilterError("%s on %s: %s" % (process.get("service"), process.get("binary"), error))


class FilterModule(object):
    def filters(self):
        return {"etcd_member_settings": etcd_member_settings}
