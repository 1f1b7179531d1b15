/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_URL_H
#define TETHER_URL_H

#include <stdbool.h>
#include <stddef.h>

#define URL_HOST_MAX 253
#define URL_PATH_MAX 1024

/* A server URL as clevis's tang pin stores it: http://host[:port][/path]. */
struct url {
	bool tls;			/* https */
	bool ipv6;			/* host is an IPv6 literal */
	char host[URL_HOST_MAX + 1];	/* name or address, no brackets */
	char port[6];			/* decimal, defaulted from the scheme */
	char path[URL_PATH_MAX + 1];	/* "" or "/prefix", no trailing '/' */
	/* https trust carried in a binding, set by its pin, not parsed:
	   curl's "sha256//..." key pin, or PEM CA certificates (borrowed). */
	char pin[64];
	const char *ca_pem;
	/* HTTP Basic credentials from "NAME:TOKEN@", as clevis's curl sends
	   them; never part of url_format's text. */
	char user[65];
	char pass[129];
};

/*
 * Parses a server URL. The scheme defaults to http:// as curl's does for
 * clevis; https:// is accepted; host names, IPv4 and bracketed IPv6
 * literals; a port 1-65535; a path prefix; "NAME:TOKEN@" credentials of
 * unreserved characters (RFC 3986: A-Z a-z 0-9 - . _ ~), with https://
 * only. Query strings, fragments and control characters are refused.
 * Returns 0, -EPERM for credentials in a plain http URL, or -EINVAL.
 */
int url_parse(const char *text, struct url *out);

/*
 * Writes the request target for an endpoint of the server: the URL's path
 * followed by suffix ("/adv", "/rec/KID"). Returns 0 or -ENAMETOOLONG.
 */
int url_target(const struct url *u, const char *suffix, char *out,
               size_t len);

/* Writes "scheme://host:port/path" for messages. */
void url_format(const struct url *u, char *out, size_t len);

#endif
