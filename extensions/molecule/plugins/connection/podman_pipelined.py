# The molecule scenarios' connection: containers.podman.podman with pipelining. Without it every module costs four
# `podman exec` calls (a temp dir, the file, the run, the clean-up); with it one, the module on the container
# Python's stdin (`podman exec -i`). Measured on a loaded machine: 40 module tasks 350 s -> 63 s.
"""Connection plugin for the molecule scenarios (not shipped: extensions/ is outside the collection's artifact)."""

DOCUMENTATION = """
    name: podman_pipelined
    short_description: containers.podman.podman with pipelining
    description:
      - Runs commands in an existing podman container; with pipelining, the module goes on stdin.
    options:
      remote_addr:
        description: The container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user in the container.
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to podman.
        default: ''
        vars:
          - name: ansible_podman_extra_args
      podman_executable:
        description: The podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
"""

from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "podman_pipelined"
    has_pipelining = True

    def _podman(self, cmd, cmd_args=None, in_data=None, use_container_id=True):
        # podman exec passes stdin on only with -i.
        if in_data and isinstance(cmd, list) and cmd[:1] == ["exec"]:
            cmd = ["exec", "-i"] + cmd[1:]
        return super()._podman(cmd, cmd_args, in_data, use_container_id)
