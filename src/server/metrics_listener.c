/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/metrics_listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/log.h"
#include "server/http.h"
#include "server/metrics.h"

/* Prometheus's scrapers, and an operator's curl: a handful at once. */
#define METRICS_CONNECTIONS 8
#define METRICS_TIMEOUT 10

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_listener {
	struct MHD_Daemon *daemon;
	struct metrics_source src;
};

static void
read_gauges(const struct metrics_source *src, struct metrics_gauges *g)
{
	struct keyset *ks = keystore_get(src->keys);

	memset(g, 0, sizeof(*g));
	if (ks) {
		g->keys_advertised = ks->nadvertised;
		g->keys_total = ks->nkeys;
		keyset_unref(ks);
	}
	g->approvals = src->approvals_pending != NULL;
	if (g->approvals) {
		g->approvals_pending = src->approvals_pending(src->arg);
		g->past_heartbeat = src->past_heartbeat(src->arg);
	}
}

/* The exposition, in a buffer the reply takes over; NULL when out of
   memory. */
static char *
render(const struct metrics_source *src, size_t *len)
{
	struct metrics_gauges g;
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	int r;

	if (!f)
		return NULL;
	read_gauges(src, &g);
	r = metrics_write(f, &g);
	if (fclose(f) != 0 || r < 0) {
		free(text);
		return NULL;
	}
	return text;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = body ? MHD_create_response_from_buffer(len, body,
	                                              MHD_RESPMEM_MUST_FREE)
	            : MHD_create_response_from_buffer(0, NULL,
	                                              MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (status == MHD_HTTP_OK)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        METRICS_TYPE);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *data,
           size_t *data_len, void **req_cls)
{
	const struct metrics_listener *l = cls;
	static int started;
	char *text;
	size_t len = 0;

	(void)version;
	(void)data;
	/* The first call is the head alone; a body is never read. */
	if (!*req_cls) {
		*req_cls = &started;
		return MHD_YES;
	}
	if (*data_len > 0) {
		*data_len = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, NULL, 0);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, 0);
	text = render(&l->src, &len);
	if (!text)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0);
	return reply(conn, MHD_HTTP_OK, text, len);
}

struct metrics_listener *
metrics_listener_start(int fd, const struct metrics_source *src)
{
	struct metrics_listener *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		return NULL;
	}
	l->src = *src;
	l->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
		MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, l,
		MHD_OPTION_EXTERNAL_LOGGER, http_library_message, "metrics",
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		MHD_OPTION_END);
	if (!l->daemon) {
		log_err("cannot start the metrics server");
		close(fd);
		free(l);
		return NULL;
	}
	return l;
}

void
metrics_listener_stop(struct metrics_listener *l)
{
	if (!l)
		return;
	MHD_stop_daemon(l->daemon);
	free(l);
}
