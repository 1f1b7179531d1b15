#!/usr/bin/env python3
# Slow and half-closed HTTP clients for slow-clients.sh, from chosen
# loopback source addresses. Every mode is bounded in connections and in
# time, and ends on its own.
#
#   flood PORT SECONDS INTERVAL N ADDR...  keeps N connections from each
#       ADDR, each sending one more header byte every INTERVAL seconds and
#       opened again when the server closes it, for SECONDS at most
#   hold PORT SECONDS N ADDR       N connections from ADDR that sent half
#       a request and wait, for SECONDS at most
#   half-close PORT SECONDS N      N connections that send half a request,
#       shut down their side and wait, for SECONDS at most
#   trickle PORT SECONDS INTERVAL  one connection sending a header byte
#       every INTERVAL seconds; exits 0 once the server closes it, 1 if it
#       has not after SECONDS
#   whole-then-shut PORT SECONDS N  N connections one after another, each
#       sending a whole request and shutting down its side at once; prints
#       how many were answered with 200 and closed, within SECONDS in all
#
# hold and half-close print "ready" once all their connections are made.
# The server is at 127.0.0.1, or at $SLOW_TARGET (IPv4 or IPv6).
import asyncio
import os
import socket
import sys

TARGET = os.environ.get("SLOW_TARGET", "127.0.0.1")
FAMILY = socket.AF_INET6 if ":" in TARGET else socket.AF_INET

HALF_REQUEST = b"GET /adv HTTP/1.1\r\nHost: tether\r\nX-Slow: "


async def connect(port, source):
    sock = socket.socket(FAMILY, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if source:
            sock.bind((source, 0))
        await asyncio.get_running_loop().sock_connect(sock, (TARGET, port))
    except OSError:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


async def closed_by_server(reader, seconds):
    """Whether the server closed (EOF or reset) within seconds."""
    try:
        await asyncio.wait_for(reader.read(65536), seconds)
        return True
    except asyncio.TimeoutError:
        return False
    except OSError:
        return True


async def slow_connection(port, source, interval):
    """Sends a byte every interval until the server closes the connection."""
    reader, writer = await connect(port, source)
    try:
        writer.write(HALF_REQUEST)
        await writer.drain()
        while not await closed_by_server(reader, interval):
            writer.write(b"a")
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def keep_slow(port, source, interval):
    while True:
        try:
            await slow_connection(port, source, interval)
        except OSError:
            await asyncio.sleep(0.1)


async def flood(port, seconds, interval, n, sources):
    tasks = [asyncio.create_task(keep_slow(port, s, interval))
             for s in sources for _ in range(n)]
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0


async def hold(port, seconds, n, source, shut=False):
    conns = []
    for _ in range(n):
        reader, writer = await connect(port, source)
        writer.write(HALF_REQUEST)
        await writer.drain()
        if shut:
            writer.write_eof()
        conns.append(writer)
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for w in conns:
        w.close()
    return 0


async def trickle(port, seconds, interval):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    reader, writer = await connect(port, None)
    writer.write(HALF_REQUEST)
    await writer.drain()
    try:
        while loop.time() < end:
            if await closed_by_server(reader, interval):
                return 0
            writer.write(b"a")
            await writer.drain()
    except OSError:
        return 0
    finally:
        writer.close()
    return 1


async def whole_then_shut(port, seconds, n):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    answered = 0
    for _ in range(n):
        if loop.time() >= end:
            break
        reader, writer = await connect(port, None)
        writer.write(b"GET /adv HTTP/1.1\r\nHost: tether\r\n\r\n")
        writer.write_eof()
        try:
            reply = await asyncio.wait_for(reader.read(), end - loop.time())
            if reply.startswith(b"HTTP/1.1 200 "):
                answered += 1
        except (asyncio.TimeoutError, OSError):
            pass
        writer.close()
    print(answered)
    return 0


def main(argv):
    mode, port, seconds = argv[1], int(argv[2]), float(argv[3])
    if mode == "flood":
        job = flood(port, seconds, float(argv[4]), int(argv[5]), argv[6:])
    elif mode == "hold":
        job = hold(port, seconds, int(argv[4]), argv[5])
    elif mode == "half-close":
        job = hold(port, seconds, int(argv[4]), None, shut=True)
    elif mode == "whole-then-shut":
        job = whole_then_shut(port, seconds, int(argv[4]))
    elif mode == "trickle":
        job = trickle(port, seconds, float(argv[4]))
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    return asyncio.run(job)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
