/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_HTTP_H
#define TETHERD_HTTP_H

#include <stdarg.h>
#include <stdbool.h>

#include "server/clients.h"
#include "server/keystore.h"
#include "server/policy.h"

/* Tang accepts 64 KiB; a recovery request is a JWK of well under 1 KiB. */
#define HTTP_BODY_MAX (16 * 1024)

struct http_config {
	unsigned threads;		/* worker threads per listener */
	unsigned timeout;		/* idle seconds before a connection closes */
	unsigned request_timeout;	/* seconds for each request to arrive */
	unsigned connections;		/* open connections per listener */
	struct keystore *keys;
	struct client_registry *clients; /* NULL: no authentication */
	struct policy_slot *policy;	/* allow-list and rate limits */
	unsigned connections_per_address;
};

struct http_listener;

/*
 * Serves Tang's endpoints on the listening socket fd (taking ownership)
 * with a copy of cfg (the slots and registry it points to must outlive
 * the listener); over TLS 1.2 or 1.3 if tls, with the certificate in
 * force at each handshake (tls_identity_install). Returns NULL after
 * logging.
 */
struct http_listener *http_listener_start(int fd, bool tls,
                                          const struct http_config *cfg);

/*
 * Requests from now on, on open connections too, authenticate against
 * cfg's clients. The server, and what it was started with (threads,
 * timeout, connection limits), stays: a reload can neither fail here
 * nor take the listening socket from it.
 */
void http_listener_reload(struct http_listener *l, const struct http_config *cfg);

/* The most connections a listener started with cfg holds at once. */
unsigned http_listener_capacity(const struct http_config *cfg);

/* The HTTP library's messages as warnings, prefixed with cls (a
   string): its logger for every server the process runs. */
void http_library_message(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Stops serving, finishing nothing; accepts NULL. */
void http_listener_stop(struct http_listener *l);

#endif
