# The molecule scenarios' connection: containers.podman.podman with pipelining. Without it every module costs four
# `podman exec` calls (a temp dir, the file, the run, the clean-up); with it one, the module on the container
# Python's stdin (`podman exec -i`). Measured on a loaded machine: 40 module tasks 350 s -> 63 s.
"""Connection plugin for the molecule scenarios (not shipped: extensions/ is outside the collection's artifact)."""

DOCUMENTATION = """
    name: podman_pipelined
    short_description: containers.podman.podman with pipelining
    description:
      - Runs commands in an existing podman container; with pipelining, the module goes on stdin.
    # The options of containers.podman.podman (1.18.0), as they are.
    options:
      remote_addr:
        description:
          - The ID of the container you want to access.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description:
            - User specified via name or UID which is used to execute commands inside the container. If you
              specify the user via UID, you must set C(ANSIBLE_REMOTE_TMP) to a path that exits
               inside the container and is writable by Ansible.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description:
          - Extra arguments to pass to the podman command line.
        default: ''
        ini:
          - section: defaults
            key: podman_extra_args
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description:
          - Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
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
