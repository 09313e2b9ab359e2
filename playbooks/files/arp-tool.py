#!/usr/bin/env python3
"""ARP as a host does it (RFC 5227), run on a lab node.

  arp-tool.py check IFACE [W] is the interface's address taken by another machine?
                              (probe with sender 0.0.0.0 for W seconds, default 1; if nobody
                              else answers, announce it)
  arp-tool.py announce IFACE  send a gratuitous ARP for every IPv4 address of IFACE, once
  arp-tool.py repeat IFACE S  the same every S seconds, for ever (a device that keeps announcing)

Exit 0 and "UNIQUE <ip>" when no other machine claims the address, exit 1 and
"DUPLICATE <ip> is-at <mac>" when one does. Standard library only: it runs on any node.
"""
import re
import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_ARP = 0x0806


def addresses(iface):
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", iface],
                         capture_output=True, text=True).stdout
    return re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out)


def mac_of(iface):
    with open(f"/sys/class/net/{iface}/address") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def frame(mac, sender, target, op=1):
    eth = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
    return eth + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac, sender, b"\0" * 6, target)


def sock(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((iface, ETH_P_ARP))
    return s


def announce(iface):
    s, mac = sock(iface), mac_of(iface)
    for ip in addresses(iface):
        a = socket.inet_aton(ip)
        s.send(frame(mac, a, a))
    s.close()


def check(iface, window=1.0):
    found = addresses(iface)
    if not found:
        print(f"NO-ADDRESS on {iface}")
        return 2
    ip = found[0]
    target, mac, s = socket.inet_aton(ip), mac_of(iface), sock(iface)
    start = time.monotonic()
    deadline, sent = start + window, 0
    while time.monotonic() < deadline:
        if sent < 3 and time.monotonic() >= start + window / 5 * sent:
            s.send(frame(mac, b"\0\0\0\0", target))
            sent += 1
        ready, _, _ = select.select([s], [], [], 0.05)
        if not ready:
            continue
        pkt = s.recv(128)
        if len(pkt) < 42:
            continue
        op, sha, spa = struct.unpack("!H6s4s", pkt[20:32])
        if op == 2 and spa == target and sha != mac:
            print(f"DUPLICATE {ip} is-at {sha.hex(':')}")
            return 1
    s.close()
    announce(iface)  # RFC 5227: once the address is known to be ours, say so
    print(f"UNIQUE {ip}")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "check":
        return check(argv[1], float(argv[2]) if len(argv) >= 3 else 1.0)
    if len(argv) >= 2 and argv[0] == "announce":
        announce(argv[1])
        return 0
    if len(argv) >= 3 and argv[0] == "repeat":
        while True:
            announce(argv[1])
            time.sleep(float(argv[2]))
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
