#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small mDNS responder for the tests: answers A (and ANY) questions for
the names it is given with one IPv4 address each, and over IPv6 AAAA
questions for the names given with --name6.

A query from a port other than 5353 is a one-shot query: the answer goes
by unicast to that port, repeating the query id and questions, with the
cache-flush bit clear (RFC 6762 section 6.7). From port 5353, a question
with the QU bit gets a unicast answer to port 5353, one without it (QM) a
multicast answer with cache-flush set. Names given with --bad-port are
answered from another port, which queriers must ignore (section 6), and
names given with --off-link from port 5353 of --off-link-addr, an address
of another subnet, which they must ignore too (section 11).

Every question received is logged as "[ipv6 ]port=P qu=0|1 type=T name=N",
every answer sent as "answer from=5353|other|off-link name=N" or
"answer ipv6 name=N".
"""
import argparse
import select
import socket
import struct
import sys

GROUP = "224.0.0.251"
PORT = 5353
GROUP6 = "ff02::fb"
TYPE_A, TYPE_AAAA, TYPE_ANY = 1, 28, 255


def read_name(pkt, off):
    """The name at off (dotted, lowercased) and the offset past it."""
    labels, end, hops = [], None, 0
    while True:
        if off >= len(pkt):
            raise ValueError("name past the end")
        c = pkt[off]
        if c & 0xC0 == 0xC0:
            hops += 1
            if off + 1 >= len(pkt) or hops > 32:
                raise ValueError("bad pointer")
            if end is None:
                end = off + 2
            off = (c & 0x3F) << 8 | pkt[off + 1]
            continue
        if c & 0xC0:
            raise ValueError("bad label")
        if c == 0:
            return b".".join(labels).decode("ascii", "replace").lower(), \
                end if end is not None else off + 1
        if off + 1 + c > len(pkt):
            raise ValueError("label past the end")
        labels.append(pkt[off + 1:off + 1 + c])
        off += 1 + c


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def questions(pkt):
    qid, flags, qdcount = struct.unpack("!HHH", pkt[:6])
    if flags & 0x8000:
        return qid, []              # a response, maybe our own
    off, qs = 12, []
    for _ in range(qdcount):
        name, off = read_name(pkt, off)
        if off + 4 > len(pkt):
            raise ValueError("question past the end")
        qtype, qclass = struct.unpack("!HH", pkt[off:off + 4])
        off += 4
        qs.append((name, qtype, qclass))
    return qid, qs


def answer(qid, qs, match, rtype, rdata, legacy):
    """The response packet for question match (an index into qs)."""
    if legacy:
        # Id and questions repeated; the answer's name points at its
        # question, as a compressing responder writes it.
        body, offsets = b"", []
        for name, qtype, qclass in qs:
            offsets.append(12 + len(body))
            body += encode_name(name) + struct.pack("!HH", qtype, qclass)
        owner = struct.pack("!H", 0xC000 | offsets[match])
        head = struct.pack("!HHHHHH", qid, 0x8400, len(qs), 1, 0, 0)
        rclass = 1
    else:
        body, owner = b"", encode_name(qs[match][0])
        head = struct.pack("!HHHHHH", 0, 0x8400, 0, 1, 0, 0)
        rclass = 0x8001
    rr = owner + struct.pack("!HHIH", rtype, rclass, 120, len(rdata)) + rdata
    return head + body + rr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iface-addr", required=True,
                   help="IPv4 address of the interface to listen on")
    p.add_argument("--name", action="append", default=[],
                   help="NAME=ADDR to answer for")
    p.add_argument("--bad-port", action="append", default=[],
                   help="NAME=ADDR to answer for from a port other than 5353")
    p.add_argument("--off-link", action="append", default=[],
                   help="NAME=ADDR to answer for from --off-link-addr")
    p.add_argument("--off-link-addr",
                   help="a local IPv4 address outside the querier's subnet")
    p.add_argument("--name6", action="append", default=[],
                   help="NAME=ADDR6 to answer AAAA questions for over IPv6")
    p.add_argument("--iface6", help="the interface to listen on for IPv6")
    p.add_argument("--log", required=True)
    p.add_argument("--ready", required=True)
    a = p.parse_args()
    names = {}
    for spec, how in [(s, "5353") for s in a.name] + \
            [(s, "other") for s in a.bad_port] + \
            [(s, "off-link") for s in a.off_link]:
        name, addr = spec.split("=", 1)
        names[name.lower().rstrip(".")] = (addr, how)

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", PORT))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton(GROUP) + socket.inet_aton(a.iface_addr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                 socket.inet_aton(a.iface_addr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    senders = {"5353": s, "other": socket.socket(socket.AF_INET,
                                                 socket.SOCK_DGRAM)}
    senders["other"].bind((a.iface_addr, 0))
    if a.off_link_addr:
        off = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        off.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        off.bind((a.off_link_addr, PORT))
        senders["off-link"] = off
    names6 = dict((n.lower().rstrip("."), addr) for n, addr in
                  (spec.split("=", 1) for spec in a.name6))
    socks = [s]
    if a.iface6:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind(("::", PORT))
        ifindex = socket.if_nametoindex(a.iface6)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                      socket.inet_pton(socket.AF_INET6, GROUP6) +
                      struct.pack("@I", ifindex))
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        socks.append(s6)
    log = open(a.log, "a", buffering=1)
    with open(a.ready, "w") as f:
        f.write("ready\n")

    while True:
        for sock in select.select(socks, [], [])[0]:
            if sock is s:
                serve4(s, senders, names, log)
            else:
                serve6(sock, names6, log)


def receive(sock, log):
    """A datagram's questions, its id, source and port; None if not a query."""
    pkt, src = sock.recvfrom(9000)
    try:
        qid, qs = questions(pkt)
    except (ValueError, struct.error) as e:
        log.write("malformed from port=%d: %s\n" % (src[1], e))
        return None
    return qid, qs, src


def serve4(s, senders, names, log):
    got = receive(s, log)
    if not got:
        return
    qid, qs, (src, port) = got
    for i, (name, qtype, qclass) in enumerate(qs):
        log.write("port=%d qu=%d type=%d name=%s\n" %
                  (port, qclass >> 15, qtype, name))
        if name not in names or qtype not in (TYPE_A, TYPE_ANY):
            continue
        addr, how = names[name]
        legacy = port != PORT
        reply = answer(qid, qs, i, TYPE_A, socket.inet_aton(addr), legacy)
        if legacy or qclass & 0x8000 or how != "5353":
            senders[how].sendto(reply, (src, port))
        else:
            s.sendto(reply, (GROUP, PORT))
        log.write("answer from=%s name=%s\n" % (how, name))


def serve6(s6, names6, log):
    got = receive(s6, log)
    if not got:
        return
    qid, qs, src = got
    for i, (name, qtype, qclass) in enumerate(qs):
        log.write("ipv6 port=%d qu=%d type=%d name=%s\n" %
                  (src[1], qclass >> 15, qtype, name))
        if name not in names6 or qtype not in (TYPE_AAAA, TYPE_ANY):
            continue
        legacy = src[1] != PORT
        reply = answer(qid, qs, i, TYPE_AAAA,
                       socket.inet_pton(socket.AF_INET6, names6[name]), legacy)
        if legacy or qclass & 0x8000:
            s6.sendto(reply, src)
        else:
            s6.sendto(reply, (GROUP6, PORT, 0, src[3]))
        log.write("answer ipv6 name=%s\n" % name)

if __name__ == "__main__":
    sys.exit(main())
