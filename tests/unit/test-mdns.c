/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/mdns.h"

#define NAME "keys.local"

static const uint8_t V4[4] = { 192, 0, 2, 1 };
static const uint8_t V4B[4] = { 192, 0, 2, 7 };
static const uint8_t V6[16] = { 0xfe, 0x80, [14] = 0x12, [15] = 0x34 };

/* A packet written by hand, as a responder would. */
struct pkt {
	uint8_t b[2048];
	size_t len;
};

static void
put(struct pkt *p, const void *d, size_t n)
{
	assert_true(p->len + n <= sizeof(p->b));
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void
u8(struct pkt *p, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(p, &b, 1);
}

static void
u16(struct pkt *p, unsigned v)
{
	u8(p, v >> 8);
	u8(p, v);
}

static void
u32(struct pkt *p, unsigned long v)
{
	u16(p, (unsigned)(v >> 16));
	u16(p, (unsigned)(v & 0xffff));
}

/* Labels of a dotted name, then the root. */
static void
name(struct pkt *p, const char *dotted)
{
	while (*dotted) {
		size_t n = strcspn(dotted, ".");

		u8(p, (unsigned)n);
		put(p, dotted, n);
		dotted += n;
		if (*dotted == '.')
			dotted++;
	}
	u8(p, 0);
}

static void
header(struct pkt *p, unsigned flags, unsigned qd, unsigned an, unsigned ns,
       unsigned ar)
{
	p->len = 0;
	u16(p, 0);
	u16(p, flags);
	u16(p, qd);
	u16(p, an);
	u16(p, ns);
	u16(p, ar);
}

/* The fixed part and the data of a record whose owner was just written. */
static void
rr(struct pkt *p, unsigned type, unsigned class, unsigned long ttl,
   const void *rdata, size_t rdlen)
{
	u16(p, type);
	u16(p, class);
	u32(p, ttl);
	u16(p, (unsigned)rdlen);
	put(p, rdata, rdlen);
}

static void
a_record(struct pkt *p, const char *owner, const uint8_t addr[4])
{
	name(p, owner);
	rr(p, 1, 1, 120, addr, 4);
}

static int
parse(const struct pkt *p, struct mdns_addr *out, size_t max, size_t *n)
{
	return mdns_response_parse(p->b, p->len, NAME, out, max, n);
}

/* Exactly one address, family and bytes. */
static void
expect_one(const struct pkt *p, int family, const uint8_t *addr)
{
	struct mdns_addr out[4];
	size_t n = 99;

	assert_int_equal(parse(p, out, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].family, family);
	assert_memory_equal(out[0].addr, addr, family == AF_INET ? 4 : 16);
}

static void
expect_none(const struct pkt *p)
{
	struct mdns_addr out[4];
	size_t n = 99;

	assert_int_equal(parse(p, out, 4, &n), 0);
	assert_int_equal(n, 0);
}

static void
expect_bad(const struct pkt *p)
{
	struct mdns_addr out[4];
	size_t n = 99;

	assert_int_equal(parse(p, out, 4, &n), -EBADMSG);
	assert_int_equal(n, 0);
}

static void
test_query_bytes(void **state)
{
	static const uint8_t want[] = {
		0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
		4, 'k', 'e', 'y', 's', 5, 'l', 'o', 'c', 'a', 'l', 0,
		0x00, 0x01, 0x80, 0x01,		/* A, QU | IN */
		0xc0, 0x0c, 0x00, 0x1c, 0x80, 0x01,	/* AAAA, QU | IN */
	};
	uint8_t buf[MDNS_QUERY_MAX];
	size_t len;

	(void)state;
	assert_int_equal(mdns_query_build("keys.local", buf, sizeof(buf), &len),
	                 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* Case and a trailing dot change nothing on the wire. */
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(mdns_query_build("Keys.LOCAL.", buf, sizeof(buf), &len),
	                 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(mdns_query_build("keys.local", buf, sizeof(want) - 1,
	                                  &len), -ENOBUFS);
}

static void
test_query_names(void **state)
{
	char longest[MDNS_NAME_MAX + 2], label[65];
	static const char *const bad[] = {
		"", ".", "..", ".local", "a..local", "a.local..", "a b.local",
		"a/b.local", "kéys.local", "a\n.local", "a:80.local",
	};
	uint8_t buf[MDNS_QUERY_MAX];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# invalid name %zu\n", i);
		assert_int_equal(mdns_query_build(bad[i], buf, sizeof(buf), &len),
		                 -EINVAL);
	}
	/* Labels: 63 bytes at most. */
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_int_equal(mdns_query_build(label, buf, sizeof(buf), &len),
	                 -EINVAL);
	label[63] = '\0';
	assert_int_equal(mdns_query_build(label, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 12 + 65 + 4 + 6);
	/* Names: 253 bytes at most, which MDNS_QUERY_MAX holds. */
	memset(longest, 'a', sizeof(longest));
	for (size_t i = 63; i < MDNS_NAME_MAX; i += 64)
		longest[i] = '.';
	longest[MDNS_NAME_MAX] = '\0';
	assert_int_equal(mdns_query_build(longest, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, MDNS_QUERY_MAX);
	longest[MDNS_NAME_MAX] = '.';
	longest[MDNS_NAME_MAX + 1] = '\0';
	assert_int_equal(mdns_query_build(longest, buf, sizeof(buf), &len), 0);
	longest[MDNS_NAME_MAX] = 'a';
	assert_int_equal(mdns_query_build(longest, buf, sizeof(buf), &len),
	                 -EINVAL);
}

static void
test_local_names(void **state)
{
	static const char *const local[] = {
		"a.local", "keys.local", "KEYS.Local", "x.local.", "a.b.local",
		"keys-1.LOCAL.",
	};
	static const char *const other[] = {
		"", "local", "local.", ".local", "a..local", "a.localx",
		"alocal", "a.local..", "a.local.com", "10.0.0.1", "keys.example",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		print_message("# %s\n", local[i]);
		assert_true(mdns_is_local_name(local[i]));
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		print_message("# %s\n", other[i]);
		assert_false(mdns_is_local_name(other[i]));
	}
}

static void
test_a(void **state)
{
	struct pkt p;

	(void)state;
	header(&p, 0x8400, 0, 1, 0, 0);
	a_record(&p, NAME, V4);
	expect_one(&p, AF_INET, V4);
	/* Without the authoritative bit it is still a response. */
	header(&p, 0x8000, 0, 1, 0, 0);
	a_record(&p, NAME, V4);
	expect_one(&p, AF_INET, V4);
	/* The largest TTL. */
	header(&p, 0x8400, 0, 1, 0, 0);
	name(&p, NAME);
	rr(&p, 1, 1, 0x7fffffffUL, V4, 4);
	expect_one(&p, AF_INET, V4);
	/* Owner names compare without regard to case. */
	header(&p, 0x8400, 0, 1, 0, 0);
	a_record(&p, "KeYs.LOCAL", V4);
	expect_one(&p, AF_INET, V4);
}

static void
test_aaaa_cache_flush(void **state)
{
	struct pkt p;

	(void)state;
	header(&p, 0x8400, 0, 1, 0, 0);
	name(&p, NAME);
	rr(&p, 28, 0x8001, 120, V6, 16);
	expect_one(&p, AF_INET6, V6);
	header(&p, 0x8400, 0, 1, 0, 0);
	name(&p, NAME);
	rr(&p, 1, 0x8001, 120, V4, 4);
	expect_one(&p, AF_INET, V4);
}

/* A legacy unicast answer: the questions repeated, the owner a pointer. */
static void
test_compression(void **state)
{
	struct mdns_addr out[4];
	struct pkt p;
	size_t n;

	(void)state;
	header(&p, 0x8400, 2, 2, 0, 0);
	name(&p, NAME);
	u16(&p, 1);
	u16(&p, 1);
	u16(&p, 0xc00c);
	u16(&p, 28);
	u16(&p, 1);
	u16(&p, 0xc00c);
	rr(&p, 1, 1, 10, V4, 4);
	u16(&p, 0xc00c);
	rr(&p, 28, 1, 10, V6, 16);
	assert_int_equal(parse(&p, out, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].family, AF_INET);
	assert_memory_equal(out[0].addr, V4, 4);
	assert_int_equal(out[1].family, AF_INET6);
	assert_memory_equal(out[1].addr, V6, 16);

	/* A pointer after a label: "keys", then "local" of "other.local". */
	header(&p, 0x8400, 0, 2, 0, 0);
	a_record(&p, "other.local", V4B);
	u8(&p, 4);
	put(&p, "keys", 4);
	u16(&p, 0xc000 | 18);
	rr(&p, 1, 1, 10, V4, 4);
	expect_one(&p, AF_INET, V4);

	/* Pointers to pointers, all going back. */
	header(&p, 0x8400, 0, 3, 0, 0);
	a_record(&p, NAME, V4);			/* name at 12 */
	u16(&p, 0xc00c);			/* at 38 */
	rr(&p, 16, 1, 10, "\0", 1);
	u16(&p, 0xc000 | 38);
	rr(&p, 1, 1, 10, V4B, 4);
	assert_int_equal(parse(&p, out, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out[1].addr, V4B, 4);
}

static void
test_ignored(void **state)
{
	/* Other names: a prefix, suffixes, the same letters in other
	   labels. */
	static const char *const names[] = {
		"other.local", "keys", "keys.local.evil", "x.keys.local",
		"keys.locals", "keys.lo.cal",
	};
	static const uint8_t txt[] = { 3, 'a', '=', 'b' };
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		print_message("# %s\n", names[i]);
		header(&p, 0x8400, 0, 1, 0, 0);
		a_record(&p, names[i], V4);
		expect_none(&p);
	}
	/* One label holding the dot. */
	header(&p, 0x8400, 0, 1, 0, 0);
	u8(&p, 10);
	put(&p, "keys.local", 10);
	u8(&p, 0);
	rr(&p, 1, 1, 120, V4, 4);
	expect_none(&p);
	/* Class CH; TTL 0 (a goodbye) and 2^31; types TXT, NSEC, SRV. */
	header(&p, 0x8400, 0, 6, 0, 0);
	name(&p, NAME);
	rr(&p, 1, 3, 120, V4, 4);
	name(&p, NAME);
	rr(&p, 1, 0x8001, 0, V4, 4);
	name(&p, NAME);
	rr(&p, 1, 1, 0x80000000UL, V4, 4);
	name(&p, NAME);
	rr(&p, 16, 1, 120, txt, sizeof(txt));
	name(&p, NAME);
	rr(&p, 47, 0x8001, 120, V6, 5);
	name(&p, NAME);
	rr(&p, 33, 1, 120, V6, 16);
	expect_none(&p);
	/* An A of another class is not held to 4 bytes. */
	header(&p, 0x8400, 0, 1, 0, 0);
	name(&p, NAME);
	rr(&p, 1, 3, 120, V6, 6);
	expect_none(&p);
}

static void
test_sections(void **state)
{
	struct mdns_addr out[4];
	struct pkt p;
	size_t n;

	(void)state;
	/* Authority records are proposals in probes, not answers. */
	header(&p, 0x8400, 0, 0, 1, 0);
	a_record(&p, NAME, V4);
	expect_none(&p);
	/* Additional records are the responder's own data. */
	header(&p, 0x8400, 0, 1, 0, 1);
	a_record(&p, "other.local", V4B);
	name(&p, NAME);
	rr(&p, 28, 0x8001, 120, V6, 16);
	expect_one(&p, AF_INET6, V6);
	/* Duplicates once; at most max. */
	header(&p, 0x8400, 0, 4, 0, 0);
	a_record(&p, NAME, V4);
	a_record(&p, NAME, V4);
	a_record(&p, NAME, V4B);
	name(&p, NAME);
	rr(&p, 28, 1, 120, V6, 16);
	assert_int_equal(parse(&p, out, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(parse(&p, out, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out[0].addr, V4, 4);
	assert_memory_equal(out[1].addr, V4B, 4);
	/* An empty response is well formed. */
	header(&p, 0x8400, 0, 0, 0, 0);
	expect_none(&p);
}

static void
test_not_responses(void **state)
{
	static const unsigned flags[] = {
		0x0000,			/* a query */
		0x0400,			/* a query with AA */
		0x8403,			/* NXDOMAIN */
		0x8401,			/* FORMERR */
		0x8800,			/* opcode 1 */
		0xa400,			/* opcode 4 */
	};
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		print_message("# flags %04x\n", flags[i]);
		header(&p, flags[i], 0, 1, 0, 0);
		a_record(&p, NAME, V4);
		expect_bad(&p);
	}
}

static void
test_rdlength(void **state)
{
	static const size_t bad_a[] = { 0, 3, 5, 16 };
	static const size_t bad_aaaa[] = { 0, 4, 15, 17 };
	uint8_t data[32] = { 0 };
	struct pkt p;

	(void)state;
	/* Any name: a record of the wrong size is a broken packet. */
	for (size_t i = 0; i < sizeof(bad_a) / sizeof(bad_a[0]); i++) {
		header(&p, 0x8400, 0, 1, 0, 0);
		name(&p, "other.local");
		rr(&p, 1, 0x8001, 120, data, bad_a[i]);
		expect_bad(&p);
	}
	for (size_t i = 0; i < sizeof(bad_aaaa) / sizeof(bad_aaaa[0]); i++) {
		header(&p, 0x8400, 0, 1, 0, 0);
		name(&p, NAME);
		rr(&p, 28, 1, 120, data, bad_aaaa[i]);
		expect_bad(&p);
	}
	/* An rdlength past the end. */
	header(&p, 0x8400, 0, 1, 0, 0);
	name(&p, NAME);
	rr(&p, 16, 1, 120, data, 4);
	p.b[p.len - 5] = 5;
	expect_bad(&p);
}

/* Every cut of a valid packet is refused, and so is any trailing byte. */
static void
test_truncated(void **state)
{
	struct mdns_addr out[4];
	struct pkt p;
	size_t full, n;

	(void)state;
	header(&p, 0x8400, 1, 2, 0, 1);
	name(&p, NAME);
	u16(&p, 1);
	u16(&p, 0x8001);
	u16(&p, 0xc00c);
	rr(&p, 1, 1, 10, V4, 4);
	a_record(&p, "other.local", V4B);
	u16(&p, 0xc00c);
	rr(&p, 28, 1, 10, V6, 16);
	full = p.len;
	assert_int_equal(parse(&p, out, 4, &n), 0);
	assert_int_equal(n, 2);
	for (size_t len = 0; len < full; len++) {
		p.len = len;
		expect_bad(&p);
	}
	p.len = full;
	u8(&p, 0);
	expect_bad(&p);
	/* More records counted than the packet holds. */
	p.len = full;
	p.b[11] = 2;
	expect_bad(&p);
}

static void
test_pointers(void **state)
{
	/* Into the header, to itself, forward, past the end. */
	static const unsigned targets[] = { 0, 11, 12, 20, 0x3fff };
	struct mdns_addr out[4];
	struct pkt p;
	size_t n, rdata;

	(void)state;
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		header(&p, 0x8400, 0, 1, 0, 0);
		u16(&p, 0xc000 | targets[i]);
		rr(&p, 1, 1, 10, V4, 4);
		expect_bad(&p);
	}
	/* To its own labels. */
	header(&p, 0x8400, 0, 1, 0, 0);
	u8(&p, 1);
	u8(&p, 'a');
	u16(&p, 0xc000 | 12);
	rr(&p, 1, 1, 10, V4, 4);
	expect_bad(&p);
	/* Two names pointing at each other: the first points forward. */
	header(&p, 0x8400, 0, 2, 0, 0);
	u16(&p, 0xc000 | 28);
	rr(&p, 1, 1, 10, V4, 4);
	u16(&p, 0xc000 | 12);
	rr(&p, 1, 1, 10, V4, 4);
	expect_bad(&p);
	/* Forward to a well-formed name: refused all the same. */
	header(&p, 0x8400, 0, 2, 0, 0);
	u16(&p, 0xc000 | 28);
	rr(&p, 1, 1, 10, V4B, 4);
	a_record(&p, NAME, V4);			/* name at 28 */
	expect_bad(&p);
	/* The obsolete label types 0x40 and 0x80. */
	for (unsigned t = 0x40; t <= 0x80; t += 0x40) {
		header(&p, 0x8400, 0, 1, 0, 0);
		u8(&p, t | 1);
		u8(&p, 'a');
		u8(&p, 0);
		rr(&p, 1, 1, 10, V4, 4);
		expect_bad(&p);
	}

	/* A chain of pointers, each one back to the one before, ending at a
	   root name in the data of a TXT record: 64 hops are followed, 65
	   are too many. */
	for (unsigned hops = 63; hops <= 65; hops++) {
		header(&p, 0x8400, 0, 2, 0, 0);
		name(&p, NAME);
		u16(&p, 16);
		u16(&p, 1);
		u32(&p, 10);
		u16(&p, 1 + 2 * (hops - 1));
		rdata = p.len;
		u8(&p, 0);
		for (unsigned k = 1; k < hops; k++)
			u16(&p, 0xc000 | (unsigned)(k == 1 ? rdata
			                            : rdata + 1 + 2 * (k - 2)));
		u16(&p, 0xc000 | (unsigned)(hops == 1 ? rdata
		                            : rdata + 1 + 2 * (hops - 2)));
		rr(&p, 1, 1, 10, V4, 4);
		n = 99;
		assert_int_equal(parse(&p, out, 4, &n),
		                 hops <= 64 ? 0 : -EBADMSG);
		assert_int_equal(n, 0);
	}
}

static void
test_name_length(void **state)
{
	char label[64];
	struct pkt p;

	(void)state;
	memset(label, 'a', 63);
	label[63] = '\0';
	/* Three 63-byte labels and a 61-byte one: 255 bytes, the most. */
	for (size_t last = 61; last <= 62; last++) {
		header(&p, 0x8400, 0, 1, 0, 0);
		for (int i = 0; i < 3; i++) {
			u8(&p, 63);
			put(&p, label, 63);
		}
		u8(&p, (unsigned)last);
		put(&p, label, last);
		u8(&p, 0);
		rr(&p, 1, 1, 10, V4, 4);
		if (last == 61)
			expect_none(&p);
		else
			expect_bad(&p);
	}
}

static void
test_arguments(void **state)
{
	struct sockaddr_storage ss[2];
	struct mdns_addr out[2];
	struct pkt p;
	size_t n = 99;

	(void)state;
	header(&p, 0x8400, 0, 1, 0, 0);
	a_record(&p, NAME, V4);
	assert_int_equal(mdns_response_parse(p.b, p.len, "bad name", out, 2,
	                                     &n), -EINVAL);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(mdns_resolve("bad name.local", 10, ss, 2, &n),
	                 -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(mdns_resolve(NAME, 10, ss, 0, &n), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_bytes),
		cmocka_unit_test(test_query_names),
		cmocka_unit_test(test_local_names),
		cmocka_unit_test(test_a),
		cmocka_unit_test(test_aaaa_cache_flush),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_not_responses),
		cmocka_unit_test(test_rdlength),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_pointers),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
