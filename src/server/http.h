/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_HTTP_H
#define TETHERD_HTTP_H

#include <stdbool.h>

#include "server/clients.h"
#include "server/keystore.h"
#include "server/policy.h"

/* Tang accepts 64 KiB; a recovery request is a JWK of well under 1 KiB. */
#define HTTP_BODY_MAX (16 * 1024)

struct http_config {
	unsigned threads;		/* worker threads per listener */
	unsigned timeout;		/* idle seconds before a connection closes */
	unsigned connections;		/* open connections per listener */
	struct keystore *keys;
	const char *tls_cert;		/* PEM chain, for https listeners */
	const char *tls_key;		/* PEM private key */
	struct client_registry *clients; /* NULL: no authentication */
	struct policy_slot *policy;	/* allow-list and rate limits */
	unsigned connections_per_address;
};

struct http_listener;

/*
 * Serves Tang's endpoints on the listening socket fd (taking ownership)
 * with a copy of cfg (the slots and registry it points to must outlive
 * the listener); over TLS 1.2 or 1.3 with cfg's certificate if tls.
 * Returns NULL after logging.
 */
struct http_listener *http_listener_start(int fd, bool tls,
                                          const struct http_config *cfg);

/*
 * Goes on on the same socket with cfg (a new certificate, limits): new
 * connections get the new server at once, open ones finish on the old,
 * which http_listener_reap stops. On failure (-errno, logged) the old
 * one keeps serving as before.
 */
int http_listener_reload(struct http_listener *l, const struct http_config *cfg);

/* Stops a replaced server once its connections are done, or after the
   idle timeout has passed for them all. Returns whether one still runs. */
bool http_listener_reap(struct http_listener *l);

/* Stops serving, finishing nothing; accepts NULL. */
void http_listener_stop(struct http_listener *l);

#endif
