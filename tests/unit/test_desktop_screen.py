"""The jury's screen client (tai_lab/stations/screen.py) against a fake VNC server on a socket pair:
the RFB 3.8 handshake without a password, a Raw frame turned into a PNG, keys and clicks as sent."""
from __future__ import annotations

import socket
import struct
import threading
import zlib

import pytest

from tai_lab.stations import screen


def _server(sock: socket.socket, w: int, h: int, got: dict, types: bytes = b"\x01") -> None:
    def recv(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            buf += sock.recv(n - len(buf))
        return buf
    sock.sendall(b"RFB 003.008\n")
    got["version"] = recv(12)
    sock.sendall(bytes([len(types)]) + types)
    if 1 not in types:
        return
    got["security"] = recv(1)
    sock.sendall(b"\0\0\0\0")
    got["shared"] = recv(1)
    sock.sendall(struct.pack(">HH", w, h) + b"\0" * 16 + struct.pack(">I", 6) + b"Bureau")
    got["pixel_format"] = recv(20)
    got["encodings"] = recv(8)
    got["request"] = recv(10)
    sock.sendall(b"\x02")                                   # a bell first: skipped
    # two rectangles: the top row red, the bottom row blue (BGRX little-endian pixels)
    red, blue = bytes([0, 0, 255, 0]), bytes([255, 0, 0, 0])
    sock.sendall(b"\x00\x00" + struct.pack(">H", 2)
                 + struct.pack(">HHHHi", 0, 0, w, 1, 0) + red * w
                 + struct.pack(">HHHHi", 0, 1, w, 1, 0) + blue * w)
    got["input"] = recv(8 * 8 + 3 * 6)


def test_frame_png_keys_and_click():
    ours, theirs = socket.socketpair()
    got: dict = {}
    t = threading.Thread(target=_server, args=(theirs, 3, 2, got), daemon=True)
    t.start()
    w, h = screen.handshake(ours)
    rgb = screen.frame(ours, w, h)
    assert (w, h) == (3, 2) and got["version"] == b"RFB 003.008\n" and got["shared"] == b"\x01"
    assert got["encodings"] == struct.pack(">BxHi", 2, 1, 0)          # Raw only
    assert got["request"] == struct.pack(">BBHHHH", 3, 0, 0, 0, 3, 2)  # the whole screen, not incremental
    assert rgb == bytes([255, 0, 0]) * 3 + bytes([0, 0, 255]) * 3
    png = screen.png(rgb, w, h)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    idat = png[png.index(b"IDAT") + 4: png.index(b"IEND") - 8]
    assert zlib.decompress(idat) == b"\x00" + rgb[:9] + b"\x00" + rgb[9:]
    screen.send_text(ours, "aé€", ["Enter"])
    screen.click(ours, 2, 1)
    t.join(5)
    syms = [struct.unpack(">BBxxI", got["input"][i:i + 8]) for i in range(0, 64, 8)]
    assert syms == [(4, 1, 0x61), (4, 0, 0x61), (4, 1, 0xE9), (4, 0, 0xE9),
                    (4, 1, 0x010020AC), (4, 0, 0x010020AC), (4, 1, 0xFF0D), (4, 0, 0xFF0D)]
    clicks = [struct.unpack(">BBHH", got["input"][64 + i:70 + i]) for i in range(0, 18, 6)]
    assert clicks == [(5, 0, 2, 1), (5, 1, 2, 1), (5, 0, 2, 1)]


def test_a_server_that_wants_a_password_is_refused():
    ours, theirs = socket.socketpair()
    threading.Thread(target=_server, args=(theirs, 3, 2, {}, b"\x02"), daemon=True).start()
    with pytest.raises(screen.VncError, match="password"):
        screen.handshake(ours)
