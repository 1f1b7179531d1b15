#!/usr/bin/env python3
"""Holds one listening socket as systemd does for a .socket unit, and
starts the server given on the command line on it twice: the second time
after the first was stopped with SIGTERM, as `systemctl restart` does.
Prints one line per start: "served" or "not served", then exits."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

port = int(sys.argv[1])
cmd = sys.argv[2:]
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
sock.listen(16)


def start():
    fd = sock.fileno()

    def child():
        os.dup2(fd, 3)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
    return subprocess.Popen(cmd, preexec_fn=child, pass_fds=(fd,))


def served():
    for _ in range(50):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/adv",
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            time.sleep(0.2)
    return False


for _ in range(2):
    p = start()
    print("served" if served() else "not served", flush=True)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
