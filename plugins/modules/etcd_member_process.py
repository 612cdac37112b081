#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: etcd_member_process
short_description: Read what a running etcd member of a systemd unit was given, from the process itself
version_added: "0.2.0"
description:
  - For a member the collection did not install (a distribution package, kubespray, a hand-written unit), reads
    its unit's program (C(ExecStart)), and from the running process (C(/proc/PID)) its command line, its C(ETCD_*)
    environment (what an C(EnvironmentFile) and C(Environment=) gave it), its working directory and the
    configuration file it reads (C(--config-file) or C(ETCD_CONFIG_FILE)).
  - Read-only. The M(etcdops.etcd.etcd_member_settings) filter turns the result into the member's settings by
    etcd's rules; the rolling role then switches the binary the unit runs, in place.
  - Fails, naming the fix, when the unit does not run, does not run etcd itself (a wrapper script), runs a symlink,
    a binary replaced on disk after it started or one another process or unit also runs, runs in a root directory
    of its own, or would not start as it runs (the unit changed and not reloaded, its command line or its
    environment files changed since etcd started).
  - Reads the process as its owner when root may not (a container without C(CAP_SYS_PTRACE)).
author:
  - etcdops maintainers (@etcdops)
extends_documentation_fragment:
  - etcdops.etcd.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  service:
    description: The systemd unit that runs the member (for example C(etcd) of the Debian package).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the Debian package's member
  etcdops.etcd.etcd_member_process:
    service: etcd
  register: etcd_process

- name: Show its settings by etcd's rules
  ansible.builtin.debug:
    msg: "{{ etcd_process | etcdops.etcd.etcd_member_settings }}"
"""

RETURN = r"""
service:
  description: The unit.
  returned: success
  type: str
pid:
  description: The member's process ID.
  returned: success
  type: int
binary:
  description: The etcd binary the unit runs (its C(ExecStart) program), the file a version switch replaces.
  returned: success
  type: str
  sample: /usr/local/bin/etcd
unit_files:
  description: The unit's file and its drop-ins.
  returned: success
  type: list
  elements: str
argv:
  description: The member's command line.
  returned: success
  type: list
  elements: str
environment:
  description: The member's C(ETCD_*) variables (no other variable of its environment).
  returned: success
  type: dict
cwd:
  description: The member's working directory (relative paths in its settings are relative to it).
  returned: success
  type: str
config_file:
  description: The configuration file the member reads, V("") when none.
  returned: success
  type: str
config_text:
  description: That file's text, V("") when none.
  returned: success
  type: str
binary_version:
  description: The major and minor version of RV(binary) (its C(--version)).
  returned: success
  type: str
  sample: "3.4"
package:
  description: The package that owns RV(binary) (C(dpkg-query -S), C(rpm -qf)), V("") when none.
  returned: success
  type: str
package_held:
  description: Whether that package is on hold in dpkg (its upgrades would not replace the binary).
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.etcd.plugins.module_utils.member_process import (
    SettingsError, owning_package, read_member_process)


def main():
    module = AnsibleModule(argument_spec=dict(service=dict(type="str", required=True)), supports_check_mode=True)

    def run(argv):
        return module.run_command(argv, check_rc=False)

    try:
        result = read_member_process(module.params["service"], run,
                                     systemctl=module.get_bin_path("systemctl", required=True))
        result["package"], result["package_held"] = owning_package(
            result["binary"], run, dpkg_query=module.get_bin_path("dpkg-query"), rpm=module.get_bin_path("rpm"))
    except SettingsError as error:
        module.fail_json(msg="Nothing was changed: %s." % error)
    except (IOError, OSError) as error:
        module.fail_json(msg="Nothing was changed: the process of %s could not be read (%s): run as root."
                         % (module.params["service"], error))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
