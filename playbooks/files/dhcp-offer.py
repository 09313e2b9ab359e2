#!/usr/bin/env python3
"""A DHCP exchange on the wire, as a machine that boots does it, without taking a lease.

  dhcp-offer.py IFACE [SECONDS]

Broadcasts a DHCPDISCOVER from IFACE (the machine's own hardware address, broadcast flag
set) and waits for an OFFER, resending every second. It never sends a REQUEST, so the
server commits nothing and the machine's own address is left alone. Exit 0 and
"OFFER <address> server=<id> router=<gateway>" when a server (or a relay) answers,
exit 1 and "NO-OFFER" when none does. Standard library only: it runs on any node.
"""
import os
import select
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def discover(mac, xid):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4,
                        b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"")
    options = b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x03\x01\x03\x06" + b"\xff"
    payload = bootp + options
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0" * 4, b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + udp


def offer(packet, xid):
    if len(packet) < 20 or packet[9] != 17:
        return None
    ihl = (packet[0] & 0x0F) * 4
    udp = packet[ihl:]
    if len(udp) < 8 + 240 or struct.unpack("!H", udp[2:4])[0] != 68:
        return None
    bootp = udp[8:]
    if bootp[0] != 2 or struct.unpack("!I", bootp[4:8])[0] != xid or bootp[236:240] != b"\x63\x82\x53\x63":
        return None
    opts, i, found = bootp[240:], 0, {}
    while i < len(opts) and opts[i] != 255:
        if opts[i] == 0:
            i += 1
            continue
        found[opts[i]] = opts[i + 2:i + 2 + opts[i + 1]]
        i += 2 + opts[i + 1]
    if found.get(53) != b"\x02":
        return None
    ip = socket.inet_ntoa
    router = ip(found[3][:4]) if len(found.get(3, b"")) >= 4 else "-"
    server = ip(found[54][:4]) if len(found.get(54, b"")) >= 4 else "-"
    return f"OFFER {ip(bootp[16:20])} server={server} router={router}"


def main():
    iface = sys.argv[1]
    wait = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    with open(f"/sys/class/net/{iface}/address") as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    xid = struct.unpack("!I", os.urandom(4))[0]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((iface, ETH_P_IP))
    deadline = time.monotonic() + wait
    sent = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - sent >= 1.0:
            s.sendto(discover(mac, xid), (iface, ETH_P_IP, 0, 0, b"\xff" * 6))
            sent = time.monotonic()
        ready, _, _ = select.select([s], [], [], min(0.2, max(0.0, deadline - time.monotonic())))
        if ready:
            got = offer(s.recv(2048), xid)
            if got:
                print(got)
                return 0
    print("NO-OFFER")
    return 1


if __name__ == "__main__":
    sys.exit(main())
