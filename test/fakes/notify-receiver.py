#!/usr/bin/env python3
"""A stand-in for systemd's notification socket in tests: binds a unix datagram socket at argv[1]
and prints one JSON line per datagram ({"text": ..., "fds": n}). File descriptors passed along
(systemd-notify's BARRIER=1 sends one) are closed at once, which releases the sender's barrier
wait, unless argv[2] is "hold" (then they are kept open: a manager that never answers)."""
import json
import os
import socket
import sys

path = sys.argv[1]
hold = len(sys.argv) > 2 and sys.argv[2] == "hold"
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
print(json.dumps({"listening": path}), flush=True)
held = []
while True:
    msg, fds, _flags, _addr = socket.recv_fds(sock, 65536, 16)
    print(json.dumps({"text": msg.decode("utf-8", "replace"), "fds": len(fds)}), flush=True)
    if hold:
        held.extend(fds)
    else:
        for fd in fds:
            os.close(fd)
