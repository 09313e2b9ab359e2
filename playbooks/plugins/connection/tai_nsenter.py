# tai-lab: Ansible's way into a tai-lab container, out of band.
#
# It enters the container exactly as tai-lab's own transports do: the command that enters is
# built by tai_lab.transports.nsenter.enter_argv (every namespace of the container's init, its
# user namespace included for a candidate's node) and handed over in the inventory
# (ansible_nsenter_argv), so a playbook has the rights of the node's root and none on the host.
# The plugin imports nothing of tai-lab: ansible-playbook may run under another Python than
# tai-lab's (an installed tool in its own environment, Ansible from the system). Commands get
# their standard input (pipelining: a module task is one nsenter + python3 reading the
# module on stdin); files are copied with cat.
from __future__ import annotations

import subprocess

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

DOCUMENTATION = r"""
name: tai_nsenter
short_description: enter a tai-lab container's namespaces (user namespace included)
description:
  - Runs commands in the namespaces of a container's init process, as tai-lab's transports do.
author: tai-lab
options:
  nsenter_argv:
    description: The command that enters the container (nsenter and its options, up to "--"), as
      tai-lab builds it for the node.
    type: list
    elements: str
    vars:
      - name: ansible_nsenter_argv
"""

display = Display()


class Connection(ConnectionBase):
    transport = "tai_nsenter"
    has_pipelining = True

    def _connect(self):
        self._play_context.remote_user = "root"
        self._connected = True
        return self

    def _argv(self, command: list[str]) -> list[bytes]:
        enter = self.get_option("nsenter_argv")
        if not enter or enter[0] != "nsenter" or enter[-1] != "--":
            raise AnsibleError("tai_nsenter: no way into the container (ansible_nsenter_argv)")
        return [to_bytes(a) for a in [*enter, *command]]

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        argv = self._argv(["/bin/sh", "-c", cmd] if isinstance(cmd, (str, bytes)) else list(cmd))
        display.vvv(f"EXEC {argv!r}", host=self._play_context.remote_addr)
        proc = subprocess.run(argv, input=in_data, capture_output=True)
        return proc.returncode, proc.stdout, proc.stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as f:
            data = f.read()
        rc, _out, err = self.exec_command(["sh", "-c", 'cat > "$1"', "put", out_path], in_data=data)
        if rc != 0:
            raise AnsibleError(f"failed to copy a file to {out_path}: {err!r}")

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        rc, out, err = self.exec_command(["cat", in_path])
        if rc != 0:
            raise AnsibleError(f"failed to fetch {in_path}: {err!r}")
        with open(out_path, "wb") as f:
            f.write(out)

    def close(self):
        self._connected = False
