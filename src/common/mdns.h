/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_MDNS_H
#define TETHER_MDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * A one-shot Multicast DNS resolver (RFC 6762 section 5.1) for host names
 * on the local link, for an initramfs that has no avahi and no nss-mdns.
 */

#define MDNS_PORT 5353
#define MDNS_NAME_MAX 253	/* text form, without the trailing dot */
#define MDNS_WIRE_MAX 255	/* wire form, RFC 1035 section 3.1 */
/* RFC 6762 section 17; what a receive buffer must hold to see all. */
#define MDNS_PACKET_MAX 9000
/* Header, the name, its two questions (A, then AAAA by pointer). */
#define MDNS_QUERY_MAX (12 + MDNS_WIRE_MAX + 4 + 2 + 4)
/* Addresses one resolution returns at most. */
#define MDNS_ADDRS_MAX 8

struct mdns_addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* 4 bytes for AF_INET, 16 for AF_INET6 */
};

/*
 * True when host is a name under "local." (case-insensitive, an optional
 * trailing dot), the names RFC 6762 resolves by multicast on the link.
 */
bool mdns_is_local_name(const char *host);

/*
 * Writes a one-shot query for name's A and AAAA records into buf: query
 * id 0, both questions with the unicast-response (QU) bit. name is a host
 * name of letters, digits, '-' and '_' labels of 1-63 bytes, at most
 * MDNS_NAME_MAX in all, with an optional trailing dot. Returns the
 * packet's length in *out_len and 0; -EINVAL for a name that is not one;
 * -ENOBUFS when len is too small (MDNS_QUERY_MAX always suffices).
 */
int mdns_query_build(const char *name, uint8_t *buf, size_t len,
                     size_t *out_len);

/*
 * Parses a response packet pkt[0..len) received from a responder and
 * writes the addresses it gives for name: A records of exactly 4 bytes
 * and AAAA records of exactly 16, class IN (the cache-flush bit ignored),
 * a TTL from 1 to 2^31 - 1 (0 withdraws a record), whose owner name equals name
 * without regard to ASCII case, in the answer or additional section.
 * Every other record is skipped; duplicates are written once; at most max
 * are written and *n says how many. Returns 0 (*n may be 0) when the
 * whole packet is well formed; -EBADMSG when anything in it is not (a
 * length past the end, a compression pointer that does not point back
 * or points into the header,
 * too many pointers, a name longer than 255 bytes, trailing bytes), or it
 * is not a response (a query, an opcode or response code other than 0),
 * with *n set to 0; -EINVAL for a name mdns_query_build refuses.
 */
int mdns_response_parse(const uint8_t *pkt, size_t len, const char *name,
                        struct mdns_addr *out, size_t max, size_t *n);

/*
 * Resolves name with a one-shot query: sends it to 224.0.0.251 and
 * ff02::fb, port 5353, from an ephemeral port, on every interface that
 * is up, not loopback and multicast-capable (multicast TTL 255), again
 * twice within timeout_ms, and returns with the addresses of the first
 * valid answer. Answers count only from port 5353 and an address on the
 * link they arrived on (RFC 6762 sections 6 and 11). The addresses are
 * written to out (at most max, port 0, link-local IPv6 ones scoped to the
 * interface that answered), their count to *n. Returns 0 with *n > 0;
 * -EHOSTUNREACH when no valid answer came within timeout_ms;
 * -ENETUNREACH when no interface could send the query; -EINVAL for a
 * name mdns_query_build refuses or max 0; other -errno when sockets
 * fail. Blocks at most timeout_ms; safe to call from several threads.
 */
int mdns_resolve(const char *name, unsigned timeout_ms,
                 struct sockaddr_storage *out, size_t max, size_t *n);

#endif
