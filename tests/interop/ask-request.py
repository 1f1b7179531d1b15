#!/usr/bin/env python3
"""Asks for a passphrase as systemd-cryptsetup does (systemd's password
agent protocol): an ask file in /run/systemd/ask-password names a
datagram socket, and the first answer there wins. Writes what came
("+KEY", "-", or nothing by the time limit) to OUT.

usage: ask-request.py NAME DEV SECONDS OUT [ID]

NAME is this process's third argument, where an agent reads the
volume's name in systemd-cryptsetup's ("systemd-cryptsetup attach NAME
..."); ID defaults to cryptsetup:DEV. With ASK_SOCKET_GONE=1 in the
environment the socket goes as soon as the request is made, as when
systemd-cryptsetup took a cached passphrase instead: the ask file stays
SECONDS.
"""
import os
import socket
import sys
import tempfile
import time

ASK_DIR = "/run/systemd/ask-password"


def main():
    name, dev, seconds, out = sys.argv[1:5]
    ask_id = sys.argv[5] if len(sys.argv) > 5 else "cryptsetup:" + dev
    sock_path = os.path.join(ASK_DIR, "sck.%d" % os.getpid())
    ask_path = os.path.join(ASK_DIR, "ask.%d" % os.getpid())
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    fd, tmp = tempfile.mkstemp(prefix=".ask", dir=ASK_DIR)
    with os.fdopen(fd, "w") as f:
        f.write("[Ask]\nPID=%d\nSocket=%s\nAcceptCached=1\nEcho=0\n"
                "NotAfter=0\nMessage=Please enter passphrase for disk (%s)\n"
                "Id=%s\n" % (os.getpid(), sock_path, name, ask_id))
    # Agents watch for a whole file: it appears by rename.
    os.rename(tmp, ask_path)
    if os.environ.get("ASK_SOCKET_GONE") == "1":
        sock.close()
        os.unlink(sock_path)
        time.sleep(float(seconds))
        os.unlink(ask_path)
        open(out, "wb").close()
        return
    sock.settimeout(float(seconds))
    try:
        data = sock.recv(8192)
    except socket.timeout:
        data = b""
    os.unlink(ask_path)
    os.unlink(sock_path)
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
