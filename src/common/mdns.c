/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/mdns.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

#define TYPE_A 1
#define TYPE_AAAA 28
#define CLASS_IN 1
#define CLASS_MASK 0x7fff	/* the top bit is cache-flush or QU */
#define CLASS_QU 0x8000
#define FLAG_QR 0x8000
#define HEADER_LEN 12
#define RR_FIXED_LEN 10		/* type, class, ttl, rdlength */
/* Pointers must point back, so no name loops; the limit also bounds the
   work one name can cost, as RFC 1035 sets none. */
#define POINTER_HOPS 64
/* One send, then two more spread over the timeout: a query lost while
   the link settles at boot gets answered by a later one. */
#define SENDS 3
#define LINKS_MAX 64		/* interfaces a query is sent on */
#define LINK_ADDRS_MAX 256	/* addresses on them, for the source check */

static bool
is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* name in wire form, lowercased: what is sent and what answers must match. */
static int
name_encode(const char *name, uint8_t wire[MDNS_WIRE_MAX], size_t *wire_len)
{
	size_t n = strlen(name), label = 0, pos = 1;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > MDNS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || name[i] == '.') {
			size_t l = pos - label - 1;

			if (l == 0 || l > 63)
				return -EINVAL;
			wire[label] = (uint8_t)l;
			label = pos++;
			continue;
		}
		if (!is_label_char(name[i]))
			return -EINVAL;
		wire[pos++] = lower((uint8_t)name[i]);
	}
	/* n <= 253 text bytes are n + 2 <= 255 wire bytes. */
	wire[label] = 0;
	*wire_len = pos;
	return 0;
}

bool
mdns_is_local_name(const char *host)
{
	size_t n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	/* At least "x.local": a label, a dot, "local". */
	return n >= 7 && host[n - 7] != '.' && host[n - 6] == '.' &&
	       strncasecmp(host + n - 5, "local", 5) == 0;
}

int
mdns_query_build(const char *name, uint8_t *buf, size_t len, size_t *out_len)
{
	uint8_t wire[MDNS_WIRE_MAX];
	size_t wlen, total;
	int r;

	r = name_encode(name, wire, &wlen);
	if (r < 0)
		return r;
	total = HEADER_LEN + wlen + 4 + 2 + 4;
	if (len < total)
		return -ENOBUFS;
	memset(buf, 0, HEADER_LEN);
	put16(buf + 4, 2);			/* qdcount */
	memcpy(buf + HEADER_LEN, wire, wlen);
	put16(buf + HEADER_LEN + wlen, TYPE_A);
	put16(buf + HEADER_LEN + wlen + 2, CLASS_QU | CLASS_IN);
	put16(buf + HEADER_LEN + wlen + 4, 0xc000 | HEADER_LEN);
	put16(buf + HEADER_LEN + wlen + 6, TYPE_AAAA);
	put16(buf + HEADER_LEN + wlen + 8, CLASS_QU | CLASS_IN);
	*out_len = total;
	return 0;
}

/* What a name in a packet is compared against. */
struct want {
	const uint8_t *wire;
	size_t len;
};

/*
 * Reads the name at *off, leaving *off past it (past its first pointer,
 * or its final zero), and says whether it is want's name. Each pointer
 * must point past the header and before the labels that led to it:
 * targets strictly decrease, so no packet can make this loop.
 */
static int
name_read(const uint8_t *pkt, size_t len, size_t *off, const struct want *w,
          bool *match)
{
	size_t pos = *off, limit = *off, total = 0, wi = 0;
	unsigned hops = 0;
	bool jumped = false;

	*match = true;
	for (;;) {
		uint8_t c;

		if (pos >= len)
			return -EBADMSG;
		c = pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (len - pos < 2 || ++hops > POINTER_HOPS)
				return -EBADMSG;
			target = (size_t)get16(pkt + pos) & 0x3fff;
			if (target < HEADER_LEN || target >= limit)
				return -EBADMSG;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = limit = target;
			continue;
		}
		if (c & 0xc0)		/* the obsolete extended label types */
			return -EBADMSG;
		total += (size_t)c + 1;
		if (total > MDNS_WIRE_MAX || len - pos - 1 < c)
			return -EBADMSG;
		if (*match) {
			*match = wi < w->len && w->wire[wi] == c;
			for (size_t i = 1; *match && i <= c; i++)
				*match = lower(pkt[pos + i]) == w->wire[wi + i];
			wi += (size_t)c + 1;
		}
		if (c == 0) {
			if (!jumped)
				*off = pos + 1;
			return 0;
		}
		pos += (size_t)c + 1;
	}
}

static void
add_addr(int family, const uint8_t *bytes, size_t blen, struct mdns_addr *out,
         size_t max, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if (out[i].family == family &&
		    memcmp(out[i].addr, bytes, blen) == 0)
			return;
	if (*n == max)
		return;
	memset(&out[*n], 0, sizeof(out[*n]));
	out[*n].family = family;
	memcpy(out[*n].addr, bytes, blen);
	(*n)++;
}

/* One resource record at *off; its address goes to out if use is set. */
static int
record_read(const uint8_t *pkt, size_t len, size_t *off, const struct want *w,
            bool use, struct mdns_addr *out, size_t max, size_t *n)
{
	uint16_t type, class, rdlen;
	uint32_t ttl;
	bool match;
	int r;

	r = name_read(pkt, len, off, w, &match);
	if (r < 0)
		return r;
	if (len - *off < RR_FIXED_LEN)
		return -EBADMSG;
	type = get16(pkt + *off);
	class = get16(pkt + *off + 2) & CLASS_MASK;
	ttl = get32(pkt + *off + 4);
	rdlen = get16(pkt + *off + 8);
	*off += RR_FIXED_LEN;
	if (len - *off < rdlen)
		return -EBADMSG;
	if (class == CLASS_IN && ((type == TYPE_A && rdlen != 4) ||
	                          (type == TYPE_AAAA && rdlen != 16)))
		return -EBADMSG;
	/* TTL 0 withdraws a record; one with the top bit set counts as 0
	   (RFC 2181 section 8). */
	if (use && match && class == CLASS_IN && ttl > 0 && ttl <= INT32_MAX) {
		if (type == TYPE_A)
			add_addr(AF_INET, pkt + *off, 4, out, max, n);
		else if (type == TYPE_AAAA)
			add_addr(AF_INET6, pkt + *off, 16, out, max, n);
	}
	*off += rdlen;
	return 0;
}

static int
packet_read(const uint8_t *pkt, size_t len, const struct want *w,
            struct mdns_addr *out, size_t max, size_t *n)
{
	uint16_t flags, counts[4];
	size_t off = HEADER_LEN;
	bool match;
	int r;

	if (len < HEADER_LEN)
		return -EBADMSG;
	flags = get16(pkt + 2);
	/* RFC 6762 section 18: other opcodes and response codes are to be
	   ignored, and a query is no answer. */
	if (!(flags & FLAG_QR) || (flags >> 11 & 0xf) != 0 || (flags & 0xf) != 0)
		return -EBADMSG;
	for (size_t i = 0; i < 4; i++)
		counts[i] = get16(pkt + 4 + 2 * i);
	for (unsigned i = 0; i < counts[0]; i++) {
		r = name_read(pkt, len, &off, w, &match);
		if (r < 0)
			return r;
		if (len - off < 4)
			return -EBADMSG;
		off += 4;
	}
	/* Answers and additional records: a responder may put the AAAA
	   beside an A answer there (RFC 6762 section 6.2). */
	for (size_t s = 1; s < 4; s++)
		for (unsigned i = 0; i < counts[s]; i++) {
			r = record_read(pkt, len, &off, w, s != 2, out, max, n);
			if (r < 0)
				return r;
		}
	/* Counts that disagree with the length mean a broken packet. */
	return off == len ? 0 : -EBADMSG;
}

int
mdns_response_parse(const uint8_t *pkt, size_t len, const char *name,
                    struct mdns_addr *out, size_t max, size_t *n)
{
	uint8_t wire[MDNS_WIRE_MAX];
	struct want w = { .wire = wire };
	int r;

	*n = 0;
	r = name_encode(name, wire, &w.len);
	if (r < 0)
		return r;
	r = packet_read(pkt, len, &w, out, max, n);
	if (r < 0)
		*n = 0;
	return r;
}

/* ------------------------------------------------------------ network */

struct link_addr {
	unsigned ifindex;
	int family;
	uint8_t addr[16], mask[16];
};

/* The interfaces to ask on and the addresses answers may come from. */
struct links {
	unsigned v4[LINKS_MAX], v6[LINKS_MAX];
	size_t n4, n6;
	struct link_addr addrs[LINK_ADDRS_MAX];
	size_t naddrs;
};

static void
link_add(unsigned *list, size_t *n, unsigned ifindex)
{
	for (size_t i = 0; i < *n; i++)
		if (list[i] == ifindex)
			return;
	if (*n < LINKS_MAX)
		list[(*n)++] = ifindex;
}

static bool
sockaddr_bytes(const struct sockaddr *sa, int *family, uint8_t out[16])
{
	if (!sa)
		return false;
	*family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->
		       sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->
		       sin6_addr, 16);
	else
		return false;
	return true;
}

static void
link_addr_add(struct links *l, const struct ifaddrs *ifa, unsigned ifindex)
{
	struct link_addr *a = &l->addrs[l->naddrs];
	int mfamily;

	if (l->naddrs == LINK_ADDRS_MAX)
		return;
	memset(a, 0, sizeof(*a));
	a->ifindex = ifindex;
	if (!sockaddr_bytes(ifa->ifa_addr, &a->family, a->addr))
		return;
	/* Without a mask, only the address itself matches. */
	if (!sockaddr_bytes(ifa->ifa_netmask, &mfamily, a->mask) ||
	    mfamily != a->family)
		memset(a->mask, 0xff, sizeof(a->mask));
	l->naddrs++;
}

static int
links_load(struct links *l)
{
	struct ifaddrs *list, *ifa;

	memset(l, 0, sizeof(*l));
	if (getifaddrs(&list) < 0)
		return -errno;
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		unsigned ifindex;
		int family;

		if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP))
			continue;
		family = ifa->ifa_addr->sa_family;
		if (family != AF_INET && family != AF_INET6)
			continue;
		ifindex = if_nametoindex(ifa->ifa_name);
		if (ifindex == 0)
			continue;
		link_addr_add(l, ifa, ifindex);
		if ((ifa->ifa_flags & IFF_LOOPBACK) ||
		    !(ifa->ifa_flags & IFF_MULTICAST))
			continue;
		if (family == AF_INET)
			link_add(l->v4, &l->n4, ifindex);
		else
			link_add(l->v6, &l->n6, ifindex);
	}
	freeifaddrs(list);
	return 0;
}

static bool
masked_equal(const uint8_t *a, const uint8_t *b, const uint8_t *mask,
             size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((a[i] & mask[i]) != (b[i] & mask[i]))
			return false;
	return true;
}

/*
 * RFC 6762 section 11: only answers from the link count. The source is
 * on a subnet of the interface the answer came in on, link-local there,
 * or an address of this host (a responder on the same machine).
 */
static bool
source_on_link(const struct links *l, int family, const uint8_t *src,
               unsigned ifindex)
{
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < l->naddrs; i++) {
		const struct link_addr *a = &l->addrs[i];

		if (a->family != family)
			continue;
		if (memcmp(a->addr, src, alen) == 0)
			return true;
		if (a->ifindex == ifindex &&
		    masked_equal(a->addr, src, a->mask, alen))
			return true;
	}
	if (family == AF_INET6 && src[0] == 0xfe && (src[1] & 0xc0) == 0x80)
		for (size_t i = 0; i < l->n6; i++)
			if (l->v6[i] == ifindex)
				return true;
	return false;
}

static int
socket_open(int family)
{
	int fd, on = 1, ttl = 255, r;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in any = { .sin_family = AF_INET };

		r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl,
		               sizeof(ttl));
		if (r == 0)
			r = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on,
			               sizeof(on));
		/* Port 0: an ephemeral port, which makes this a one-shot
		   query answered by unicast (RFC 6762 section 6.7). */
		if (r == 0)
			r = bind(fd, (struct sockaddr *)&any, sizeof(any));
	} else {
		struct sockaddr_in6 any = { .sin6_family = AF_INET6 };

		r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		if (r == 0)
			r = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
			               &ttl, sizeof(ttl));
		if (r == 0)
			r = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
			               sizeof(on));
		if (r == 0)
			r = bind(fd, (struct sockaddr *)&any, sizeof(any));
	}
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Sends the query on every link of the socket's family; how many took it. */
static unsigned
query_send(int fd, int family, const struct links *l, const uint8_t *q,
           size_t qlen)
{
	unsigned sent = 0;

	if (fd < 0)
		return 0;
	if (family == AF_INET) {
		struct sockaddr_in to = {
			.sin_family = AF_INET,
			.sin_port = htons(MDNS_PORT),
			.sin_addr.s_addr = htonl(0xe00000fb),
		};

		for (size_t i = 0; i < l->n4; i++) {
			struct ip_mreqn m = { .imr_ifindex = (int)l->v4[i] };

			if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m,
			               sizeof(m)) == 0 &&
			    sendto(fd, q, qlen, 0, (struct sockaddr *)&to,
			           sizeof(to)) == (ssize_t)qlen)
				sent++;
		}
		return sent;
	}
	for (size_t i = 0; i < l->n6; i++) {
		struct sockaddr_in6 to = {
			.sin6_family = AF_INET6,
			.sin6_port = htons(MDNS_PORT),
			.sin6_addr = { .s6_addr = { 0xff, 0x02, [15] = 0xfb } },
			.sin6_scope_id = l->v6[i],
		};
		int ifindex = (int)l->v6[i];

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
		               sizeof(ifindex)) == 0 &&
		    sendto(fd, q, qlen, 0, (struct sockaddr *)&to,
		           sizeof(to)) == (ssize_t)qlen)
			sent++;
	}
	return sent;
}

/* The interface a datagram arrived on, from its packet info; 0 if none. */
static unsigned
arrival_ifindex(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			return pi.ipi_ifindex > 0 ? (unsigned)pi.ipi_ifindex : 0;
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			return pi.ipi6_ifindex;
		}
	}
	return 0;
}

static void
to_sockaddr(const struct mdns_addr *a, unsigned ifindex,
            struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a->addr, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			sin6->sin6_scope_id = ifindex;
	}
}

/*
 * Reads one datagram from fd: 0 with *n addresses when it is a valid
 * answer from the link (*n 0 for anything else: truncated, wrong port,
 * off-link, malformed); a negative errno when the socket fails.
 */
static int
answer_receive(int fd, const struct links *l, const char *name,
               struct sockaddr_storage *out, size_t max, size_t *n)
{
	uint8_t pkt[MDNS_PACKET_MAX], src_bytes[16];
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
		            CMSG_SPACE(sizeof(struct in_pktinfo))];
	} control;
	struct mdns_addr found[MDNS_ADDRS_MAX];
	struct sockaddr_storage src;
	struct iovec iov = { .iov_base = pkt, .iov_len = sizeof(pkt) };
	struct msghdr msg = {
		.msg_name = &src, .msg_namelen = sizeof(src),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	size_t nfound = 0;
	unsigned ifindex;
	ssize_t got;
	int family;
	in_port_t port;

	*n = 0;
	got = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	/* A cut datagram could look well formed yet miss records. */
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return 0;
	if (!sockaddr_bytes((struct sockaddr *)&src, &family, src_bytes))
		return 0;
	port = family == AF_INET ? ((struct sockaddr_in *)&src)->sin_port
	                         : ((struct sockaddr_in6 *)&src)->sin6_port;
	/* RFC 6762 section 6: responses come from port 5353 only. */
	if (port != htons(MDNS_PORT))
		return 0;
	ifindex = arrival_ifindex(&msg);
	if (ifindex == 0 || !source_on_link(l, family, src_bytes, ifindex))
		return 0;
	if (mdns_response_parse(pkt, (size_t)got, name, found,
	                        max < MDNS_ADDRS_MAX ? max : MDNS_ADDRS_MAX,
	                        &nfound) < 0)
		return 0;
	for (size_t i = 0; i < nfound; i++)
		to_sockaddr(&found[i], ifindex, &out[i]);
	*n = nfound;
	return 0;
}

/* Milliseconds from now until t (rounded up), 0 once it passed. */
static int
ms_until(unsigned long long t)
{
	unsigned long long now = now_usec();

	return now >= t ? 0 : (int)((t - now + 999) / 1000);
}

/* Reads what each readable socket holds; 0 with *n > 0 on an answer. */
static int
sockets_read(struct pollfd fds[2], const struct links *l, const char *name,
             struct sockaddr_storage *out, size_t max, size_t *n)
{
	for (size_t i = 0; i < 2; i++) {
		int r;

		if (!(fds[i].revents & (POLLIN | POLLERR)))
			continue;
		r = answer_receive(fds[i].fd, l, name, out, max, n);
		if (r < 0 || *n > 0)
			return r;
	}
	return 0;
}

static int
exchange(struct pollfd fds[2], const struct links *l, const char *name,
         const uint8_t *q, size_t qlen, unsigned timeout_ms,
         struct sockaddr_storage *out, size_t max, size_t *n)
{
	unsigned long long start = now_usec();
	unsigned long long deadline = start + timeout_ms * 1000ULL, next = start;
	unsigned sends = 0, sent = 0;

	for (;;) {
		int wait, r;

		if (sends < SENDS && ms_until(next) == 0) {
			sent += query_send(fds[0].fd, AF_INET, l, q, qlen);
			sent += query_send(fds[1].fd, AF_INET6, l, q, qlen);
			sends++;
			next = start + timeout_ms * 1000ULL * sends / SENDS;
		}
		if (ms_until(deadline) == 0)
			break;
		wait = ms_until(sends < SENDS ? next : deadline);
		r = poll(fds, 2, wait);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0) {
			r = sockets_read(fds, l, name, out, max, n);
			if (r < 0 || *n > 0)
				return r;
		}
	}
	return sent > 0 ? -EHOSTUNREACH : -ENETUNREACH;
}

int
mdns_resolve(const char *name, unsigned timeout_ms,
             struct sockaddr_storage *out, size_t max, size_t *n)
{
	uint8_t query[MDNS_QUERY_MAX];
	struct pollfd fds[2] = {
		{ .fd = -1, .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
	};
	struct links l;
	size_t qlen;
	int r;

	*n = 0;
	if (max == 0)
		return -EINVAL;
	r = mdns_query_build(name, query, sizeof(query), &qlen);
	if (r < 0)
		return r;
	r = links_load(&l);
	if (r < 0)
		return r;
	if (l.n4 == 0 && l.n6 == 0)
		return -ENETUNREACH;
	/* A family the kernel lacks is no failure while the other works. */
	if (l.n4 > 0)
		fds[0].fd = r = socket_open(AF_INET);
	if (l.n6 > 0)
		fds[1].fd = socket_open(AF_INET6);
	if (fds[0].fd < 0 && fds[1].fd < 0)
		return l.n6 > 0 ? fds[1].fd : r;
	r = exchange(fds, &l, name, query, qlen, timeout_ms, out, max, n);
	for (size_t i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	return r;
}
