/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_LISTEN_H
#define TETHERD_LISTEN_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/socket.h>

/* A listener named on the command line, e.g. http://[::1]:9090. */
struct listen_url {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool tls;       /* https:// */
};

/*
 * Parses "http://ADDR:PORT" or "https://ADDR:PORT" where ADDR is an IPv4 address or a bracketed
 * IPv6 address and PORT is 1-65535. Host names are refused: a server must
 * say exactly where it listens. Returns 0 or -EINVAL.
 */
int listen_url_parse(const char *url, struct listen_url *out);

/* Opens a non-blocking listening TCP socket. Returns the fd or -errno. */
int listen_open(const struct listen_url *url);

#endif
