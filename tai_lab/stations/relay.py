"""Runs INSIDE a candidate's node, one instance per connection (systemd ``Accept=yes``):
``login`` on a new pseudo-terminal, its bytes relayed to and from the accepted socket
(fd 0 and 1). Standard library only; copied to the node's /run by the portal.

The stream from the portal is raw bytes except a telnet-like escape (RFC 854/1073):
``IAC IAC`` is a literal 0xFF, ``IAC SB NAWS <cols:2> <rows:2> IAC SE`` resizes the
terminal (TIOCSWINSZ on the master side: the shell gets SIGWINCH). Output is raw.
When the socket closes, the terminal is hung up: the session ends as on a modem line.
"""
import errno
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios

IAC, SB, SE, NAWS = 255, 250, 240, 31


def decode(buf, master):
    """Data bytes of ``buf`` for the terminal, resizes applied; returns (data, rest)."""
    out = bytearray()
    i = 0
    while i < len(buf):
        b = buf[i]
        if b != IAC:
            j = buf.find(bytes([IAC]), i)
            j = len(buf) if j < 0 else j
            out += buf[i:j]
            i = j
            continue
        if i + 1 >= len(buf):
            break                                   # wait for the rest of the sequence
        cmd = buf[i + 1]
        if cmd == IAC:
            out.append(IAC)
            i += 2
        elif cmd == SB:
            end, j, body = -1, i + 2, bytearray()   # up to IAC SE; IAC IAC inside is one 0xFF
            while j + 1 < len(buf):
                if buf[j] == IAC and buf[j + 1] == SE:
                    end = j
                    break
                body.append(buf[j])
                j += 2 if buf[j] == IAC and buf[j + 1] == IAC else 1
            if end < 0:
                if len(buf) - i > 64:               # not a sequence we know: drop it
                    i = len(buf)
                break
            if len(body) == 5 and body[0] == NAWS:
                cols, rows = struct.unpack(">HH", body[1:])
                if 0 < cols < 1000 and 0 < rows < 1000:
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            i = end + 2
        else:
            i += 2                                  # other telnet commands: ignored
    return bytes(out), buf[i:]


def main():
    pid, master = pty.fork()
    if pid == 0:
        os.environ.clear()
        os.environ.update(TERM="xterm-256color", LANG="C.UTF-8")
        os.execv("/bin/login", ["login"])
    rest = b""
    sock_in, sock_out = 0, 1
    try:
        while True:
            ready, _, _ = select.select([sock_in, master], [], [])
            if sock_in in ready:
                data = os.read(sock_in, 65536)
                if not data:
                    break
                data, rest = decode(rest + data, master)
                while data:
                    data = data[os.write(master, data):]
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError as exc:
                    if exc.errno == errno.EIO:      # the session ended (shell exited)
                        break
                    raise
                if not data:
                    break
                while data:
                    data = data[os.write(sock_out, data):]
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        os.close(master)                            # hang-up: the session gets SIGHUP
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    sys.exit(main())
