# tai-lab: Ansible's way into a tai-lab container, out of band.
#
# It enters the container exactly as tai-lab's own transports do (tai_lab.transports.nsenter:
# every namespace of the container's init, its user namespace included for a candidate's
# node), so a playbook has the rights of the node's root and none on the host. Commands get
# their standard input (pipelining: a module task is one nsenter + python3 reading the
# module on stdin); files are copied with cat.
from __future__ import annotations

import subprocess

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from tai_lab.transports.nsenter import enter_argv

DOCUMENTATION = r"""
name: tai_nsenter
short_description: enter a tai-lab container's namespaces (user namespace included)
description:
  - Runs commands in the namespaces of a container's init process, as tai-lab's transports do.
author: tai-lab
options:
  nsenter_pid:
    description: PID (on the host) of the container's init.
    type: int
    vars:
      - name: ansible_nsenter_pid
  nsenter_userns:
    description: Enter the container's user namespace too (every candidate's node).
    type: bool
    default: true
    vars:
      - name: ansible_nsenter_userns
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
        pid = self.get_option("nsenter_pid")
        if not pid:
            raise AnsibleError("tai_nsenter: no container PID (ansible_nsenter_pid)")
        return [to_bytes(a) for a in
                [*enter_argv(int(pid), userns=bool(self.get_option("nsenter_userns"))), *command]]

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
