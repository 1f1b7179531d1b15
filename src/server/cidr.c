/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

static bool
host_bits_clear(const uint8_t *a, unsigned bits, unsigned total)
{
	for (unsigned i = bits; i < total; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int
cidr_parse(const char *text, struct cidr *out)
{
	char addr[CIDR_TEXT_MAX];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long bits;
	unsigned total;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		total = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		total = 128;
	} else {
		return -EINVAL;
	}
	if (!slash)
		bits = total;
	else if (parse_ulong(slash + 1, 0, total, &bits) < 0 ||
	         (slash[1] == '0' && slash[2] != '\0'))
		return -EINVAL;
	out->bits = (unsigned)bits;
	return host_bits_clear(out->addr, out->bits, total) ? 0 : -EINVAL;
}

void
cidr_format(const struct cidr *c, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(out, len, "%s/%u", a, c->bits);
}

static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	return rest == 0 ||
	       ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
cidr_contains(const struct cidr *c, const struct sockaddr *sa)
{
	int family;
	const uint8_t *a = sockaddr_ip(sa, &family);

	return a && family == c->family && prefix_equal(a, c->addr, c->bits);
}

bool
cidr_any(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&list[i], sa))
			return true;
	return false;
}
