/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_TEST_ADDR_H
#define TETHER_TEST_ADDR_H

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The IPv4 or IPv6 address text names, port 0; fails the test if none.
   Include after cmocka.h. */
static inline struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text,
	              &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text,
	                   &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail();
	return ss;
}

#endif
