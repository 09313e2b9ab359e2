# tai-lab: community.docker.nsenter with Ansible pipelining.
#
# The collection's plugin already feeds a command's standard input (exec_command's in_data);
# it only declines pipelining. With pipelining a module task is one nsenter + python3
# reading the module on stdin, instead of mkdir, copy, run and rm in four nsenter calls:
# provisioning and every intervention run faster. Options are the parent's.
from __future__ import annotations

from ansible_collections.community.docker.plugins.connection.nsenter import Connection as _NsenterConnection

DOCUMENTATION = r"""
name: tai_nsenter
short_description: nsenter into a tai-lab container, with pipelining
description:
  - community.docker.nsenter (enter the namespaces of a process), declaring pipelining support.
author: tai-lab
options:
  nsenter_pid:
    description: PID of the container's init to enter.
    type: int
    default: 1
    vars:
      - name: ansible_nsenter_pid
    env:
      - name: ANSIBLE_NSENTER_PID
"""


class Connection(_NsenterConnection):
    transport = "tai_nsenter"
    has_pipelining = True
