/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

#define LISTEN_BACKLOG 1024

static int
parse_port(const char *s, in_port_t *port)
{
	unsigned long v;
	int r = parse_ulong(s, 1, 65535, &v);

	if (r < 0)
		return -EINVAL;
	*port = htons((uint16_t)v);
	return 0;
}

static int
parse_host_port(const char *hp, struct listen_url *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	size_t n;

	if (hp[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;
		const char *end = strchr(hp, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - hp - 1);
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, hp + 1, n);
		host[n] = '\0';
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		out->addrlen = sizeof(*in6);
		return parse_port(end + 2, &in6->sin6_port);
	}

	struct sockaddr_in *in4 = (struct sockaddr_in *)&out->addr;

	colon = strchr(hp, ':');
	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - hp);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, hp, n);
	host[n] = '\0';
	in4->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		return -EINVAL;
	out->addrlen = sizeof(*in4);
	return parse_port(colon + 1, &in4->sin_port);
}

int
listen_url_parse(const char *url, struct listen_url *out)
{
	static const char http[] = "http://", https[] = "https://";

	memset(out, 0, sizeof(*out));
	if (strncmp(url, https, sizeof(https) - 1) == 0) {
		out->tls = true;
		return parse_host_port(url + sizeof(https) - 1, out);
	}
	if (strncmp(url, http, sizeof(http) - 1) != 0)
		return -EINVAL;
	return parse_host_port(url + sizeof(http) - 1, out);
}

int
listen_open(const struct listen_url *url)
{
	int one = 1, fd, r;

	fd = socket(url->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	            SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (url->addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&url->addr, url->addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}
