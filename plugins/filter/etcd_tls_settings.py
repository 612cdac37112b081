# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: etcd_tls_settings
short_description: The TLS files an etcd member runs with and the collection's calls to it use
version_added: "0.1.0"
description:
  - The one rule the server role (its configuration) and the rolling role (its calls) share.
  - O(tls) true and none of the member's files given in O(_input) - the pki role's files in O(pki_dir), client
    and peer TLS with client-certificate authentication, the collection's calls with the pki role's client
    certificate. Files given - those; a side without its certificate runs plain HTTP, and the collection's calls
    use the server pair unless C(client_*) are given. O(tls) false - plain HTTP.
  - A member with data (O(has_data)) keeps the scheme each side of its live configuration (O(live_config)) runs,
    and each difference becomes a warning, shown as an Ansible warning too.
author:
  - etcdops maintainers (@etcdops)
options:
  _input:
    description:
      - The server role's TLS variables without C(etcd_) (C(cert_file), C(key_file), C(trusted_ca_file),
        C(peer_cert_file), C(peer_key_file), C(peer_trusted_ca_file), C(client_cert_file), C(client_key_file),
        C(client_ca_file)); V("") when not given.
    type: dict
    required: true
  tls:
    description: The server role's C(etcd_tls).
    type: bool
    default: true
  pki_dir:
    description: The directory of the pki role's files on the member (C(etcd_pki_dir)).
    type: str
    default: /etc/etcd/pki
  live_config:
    description: The text of the member's live C(etcd.conf.yml), V("") when it has none.
    type: str
    default: ""
  has_data:
    description: Whether the member has data (a C(version.txt) in its data dir).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The files of a new member with the defaults
  ansible.builtin.debug:
    msg: "{{ {} | etcdops.etcd.etcd_tls_settings(tls=true, pki_dir='/etc/etcd/pki') }}"
  # cert_file /etc/etcd/pki/server.crt, ..., client_cert_file /etc/etcd/pki/client.crt, scheme https, pki true
"""

RETURN = r"""
_value:
  description:
    - The nine files of O(_input), each V("") where that side runs plain HTTP; C(scheme) and C(peer_scheme)
      (C(http) or C(https)); C(pki), whether any is the pki role's (the role must issue them); C(pki_dir);
      C(warnings).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.etcdops.etcd.plugins.plugin_utils.tls import TLSError, tls_settings


def etcd_tls_settings(given, tls=True, pki_dir="/etc/etcd/pki", live_config="", has_data=False):
    try:
        settings = tls_settings(given, tls=tls, pki_dir=pki_dir, live_config=live_config, has_data=has_data)
    except TLSError as error:
        raise AnsibleFilterError(str(error))
    for warning in settings["warnings"]:
        Display().warning(warning)
    return settings


class FilterModule:
    def filters(self):
        return {"etcd_tls_settings": etcd_tls_settings}
