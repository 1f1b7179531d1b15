/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_CIDR_H
#define TETHERD_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address block, IPv4 or IPv6: "192.0.2.0/24", "2001:db8::/32",
   or a single address without a length. */
struct cidr {
	sa_family_t family;
	uint8_t addr[16];
	unsigned bits;
};

#define CIDR_TEXT_MAX 64

/* 0, or -EINVAL for anything else (host bits set are refused too). */
int cidr_parse(const char *text, struct cidr *out);

void cidr_format(const struct cidr *c, char *out, size_t len);

/* Whether sa (IPv4, IPv6 or IPv4-mapped IPv6) lies in c. */
bool cidr_contains(const struct cidr *c, const struct sockaddr *sa);

/* Whether sa lies in any of n blocks. */
bool cidr_any(const struct cidr *list, size_t n, const struct sockaddr *sa);

#endif
