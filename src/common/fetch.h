/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_FETCH_H
#define TETHER_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/response.h"
#include "common/url.h"

/* Defaults, overridden by TETHER_CONNECT_TIMEOUT and TETHER_TIMEOUT. */
#define FETCH_CONNECT_TIMEOUT_MS 5000
#define FETCH_TOTAL_TIMEOUT_MS 15000

struct fetch_timeouts {
	unsigned connect_ms;	/* per address tried */
	unsigned total_ms;	/* the whole exchange */
};

/* What a fetch did, for the error message its caller prints. */
struct fetch_result {
	struct response response;
	char *buffer;		/* holds the response; free with fetch_done */
	char addr[64];		/* the last address tried, "-" if none */
	const char *stage;	/* "resolve", "connect", "tls", "send", "receive" */
	char detail[URL_HOST_MAX + 128];	/* resolver or TLS message */
};

/* Reads the timeouts from the environment (seconds), else the defaults. */
int fetch_timeouts_from_env(struct fetch_timeouts *t);

/*
 * Sends one HTTP/1.1 request (method, the URL's path + suffix, an optional
 * body with its content type) and reads one response, trying each address
 * the host resolves to in turn. A host under ".local" is resolved first
 * with a one-shot mDNS query (mdns_resolve) waiting up to t->connect_ms,
 * then by getaddrinfo. Returns 0 with res->response filled (any
 * status); -ETIMEDOUT, -ECONNREFUSED and other -errno for network
 * failures; -EHOSTUNREACH when the name does not resolve; -EBADMSG for a
 * malformed reply; -EMSGSIZE for one too large; for https, -EPROTO when
 * TLS fails and -EKEYREJECTED when the server is not trusted (see
 * tls_client_new), with res->detail saying why. res->stage and res->addr
 * say where.
 */
int fetch(const struct url *u, const char *method, const char *suffix,
          const char *content_type, const void *body, size_t len,
          const struct fetch_timeouts *t, struct fetch_result *res);

/*
 * Cancellation, for a caller that stops needing answers (sss, once it has
 * enough shares): the calling thread's fetches give up with -ECANCELED as
 * soon as one of fds (eventfds or pipes, at most FETCH_CANCEL_MAX) is
 * readable; a name lookup already under way still finishes first. The
 * list is the thread's own: fetch_cancel_get copies it for a thread it
 * starts. 0, or -E2BIG for too many fds.
 */
#define FETCH_CANCEL_MAX 8
int fetch_cancel_set(const int *fds, size_t n);
size_t fetch_cancel_get(int fds[FETCH_CANCEL_MAX]);

/* Whether one of the calling thread's cancel fds fired. */
bool fetch_cancelled(void);

/* Frees the response buffer; accepts a result that holds none. */
void fetch_done(struct fetch_result *res);

#endif
