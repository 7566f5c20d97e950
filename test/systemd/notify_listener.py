#!/usr/bin/python3
"""A stand-in for systemd's notify socket: an AF_UNIX datagram socket with SO_PASSCRED that prints one
JSON line per datagram: monotonic time, the sender's PID from SCM_CREDENTIALS, and the message.

Usage: notify_listener.py PATH   (a path starting with '@' binds an abstract socket)
"""
import json
import os
import signal
import socket
import struct
import sys
import time

path = sys.argv[1]
addr = "\0" + path[1:] if path.startswith("@") else path
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(addr)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(json.dumps({"listening": path}), flush=True)
cred_size = struct.calcsize("3i")
while True:
    data, ancdata, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(cred_size))
    pid = None
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, _uid, _gid = struct.unpack("3i", payload[:cred_size])
    print(json.dumps({"t": time.monotonic(), "pid": pid, "msg": data.decode("utf-8", "replace")}), flush=True)
