/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/ecmr.h"
#include "common/jwk.h"
#include "common/log.h"
#include "common/util.h"
#include "server/answer.h"
#include "server/approvals.h"
#include "server/audit.h"
#include "server/conntrack.h"
#include "server/listen.h"
#include "server/metrics.h"
#include "server/route.h"
#include "server/tls_identity.h"

#define LOG_PATH_MAX 256
/* Tang answers longer paths with 414; no route is anywhere near it. */
#define HTTP_PATH_MAX 4096

/*
 * One libmicrohttpd server and the configuration it runs with, for the
 * life of the process: a reload changes what requests read from cfg
 * (atomically) and the certificate handshakes take, never the server,
 * since taking a listening socket from a running thread-pool server
 * (MHD_quiesce_daemon) races its workers and aborts the process.
 */
struct http_server {
	struct MHD_Daemon *daemon;
	struct http_config cfg;	/* clients: read and set atomically */
	struct conntrack *track;	/* its connections, for deadlines and caps */
	int fd;			/* the socket it was given */
};

struct http_listener {
	struct http_server *live;
};

struct request {
	unsigned long long start;
	bool started;		/* the handler has seen it */
	/* The request target as sent, before the library decodes %XX and
	   splits off the query: Tang routes on it so, and so does tetherd. */
	char target[HTTP_PATH_MAX + 1];
	bool target_too_long;
	struct route_match match;
	char method[16];
	char path[LOG_PATH_MAX];
	char *body;
	size_t body_len;
	bool too_large;
	unsigned status;
	char client[CLIENT_NAME_MAX + 1];	/* claimed, for the log */
	bool authenticated;	/* client is who the credentials say */
	struct client_rules rules;	/* the authenticated client's */
	bool pending;		/* held for approval */
	bool once;		/* let through on a "once" not used up yet */
	const char *denied;	/* why the request was refused, for the audit */
	struct policy *policy;	/* the one in force when it arrived */
};

/* Per connection: whether any request on it got as far as the handler,
   and its entry in the listener's tracker. */
struct connection_state {
	unsigned long long start;
	unsigned requests;
	struct tls_identity *tls;	/* the certificate it was given */
	struct conntrack *track;
	conntrack_id id;
};

struct reply {
	unsigned status;
	const char *type;
	const char *body;
	size_t len;
	unsigned retry_after;	/* seconds, for 429 */
	bool close;		/* the request's framing cannot be trusted */
};

static struct reply
dispatch(struct keyset *ks, const struct request *rq,
         char rec[ECMR_REPLY_MAX])
{
	struct answer a;

	answer_request(ks, &rq->match, rq->body, rq->body_len, rq->too_large,
	               rec, &a);
	return (struct reply){ .status = a.status, .type = a.type, .body = a.body,
	                        .len = a.len };
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct request *rq,
           const struct reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(rep->len, (void *)rep->body,
	                                       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (rep->type &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            rep->type) != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	if (rep->status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		                        rq->match.route == ROUTE_REC ?
		                        "POST" : "GET");
	if (rep->retry_after) {
		char after[16];

		snprintf(after, sizeof(after), "%u", rep->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
	}
	if (rep->close &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
	                            "close") != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, rep->status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		rq->status = rep->status;
	return ret;
}

/*
 * The library's first word of a request: its target as sent. Returns the
 * request's state, which the handler gets as *req_cls.
 */
static void *
on_target(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *rq = calloc(1, sizeof(*rq));
	size_t n = strnlen(uri, HTTP_PATH_MAX + 1);

	(void)cls;
	(void)conn;
	if (!rq)
		return NULL;
	rq->start = now_usec();
	rq->target_too_long = n > HTTP_PATH_MAX;
	if (rq->target_too_long)
		n = HTTP_PATH_MAX;
	memcpy(rq->target, uri, n);
	rq->target[n] = '\0';
	return rq;
}

/* The handler's first sight of a request: route it on its raw target. */
static void
request_start(struct request *rq, const char *method,
              struct policy_slot *policy)
{
	rq->started = true;
	rq->policy = policy_slot_get(policy);
	log_escape(rq->method, sizeof(rq->method), method, strlen(method));
	log_escape(rq->path, sizeof(rq->path), rq->target, strlen(rq->target));
	route_match(method, rq->target, &rq->match);
}

/* The framing headers of a request, counted. */
struct framing {
	unsigned lengths;	/* Content-Length fields */
	const char *length;	/* the first one's value */
	bool lengths_differ;
	unsigned codings;	/* Transfer-Encoding fields */
	bool unknown_coding;	/* one that is not exactly "chunked" */
};

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
              const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!value)
		value = "";
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (f->lengths++ == 0)
			f->length = value;
		else if (strcmp(value, f->length) != 0)
			f->lengths_differ = true;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->codings++;
		if (strcasecmp(value, "chunked") != 0)
			f->unknown_coding = true;
	}
	return MHD_YES;
}

/*
 * A body whose end the library and a proxy before it could see in
 * different places smuggles a request (RFC 9112 section 6.3): Content-
 * Length beside Transfer-Encoding, or two lengths that differ, are 400;
 * a coding other than chunked, which the library would wait on until the
 * timeout, is 501. Returns that status and why, or 0. The connection is
 * closed after either.
 */
static unsigned
framing_refusal(struct MHD_Connection *conn, const char **why)
{
	struct framing f = { 0 };

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	if (f.unknown_coding) {
		*why = "transfer coding not supported";
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	if ((f.codings > 0 && f.lengths > 0) || f.codings > 1 ||
	    f.lengths_differ) {
		*why = "ambiguous body length";
		return MHD_HTTP_BAD_REQUEST;
	}
	return 0;
}

/* A body larger than the limit is announced or found while reading. */
static bool
declared_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long v;

	return cl && parse_ulong(cl, 0, HTTP_BODY_MAX, &v) == -ERANGE;
}

static void
take_body(struct request *rq, const char *data, size_t len)
{
	if (rq->too_large)
		return;
	if (len > HTTP_BODY_MAX - rq->body_len) {
		rq->too_large = true;
		return;
	}
	if (!rq->body) {
		rq->body = malloc(HTTP_BODY_MAX);
		if (!rq->body) {
			rq->too_large = true;
			return;
		}
	}
	memcpy(rq->body + rq->body_len, data, len);
	rq->body_len += len;
}

static struct connection_state *
connection_state_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void
count_request(struct MHD_Connection *conn)
{
	struct connection_state *cs = connection_state_of(conn);

	if (cs)
		cs->requests++;
}

static const struct sockaddr *
client_sockaddr(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return ci ? ci->client_addr : NULL;
}

static void
client_address(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	sockaddr_format(ci ? ci->client_addr : NULL, buf, len);
}

/* Refuses the request: status, the reason audited, Retry-After for 429. */
static enum MHD_Result
deny(struct MHD_Connection *conn, struct request *rq, unsigned status,
     const char *why, unsigned retry_after)
{
	struct reply rep = { .status = status, .retry_after = retry_after };

	rq->denied = why;
	return send_reply(conn, rq, &rep);
}

/*
 * HTTP Basic against the client registry, before the body is read: 401
 * (with a challenge) for missing or wrong credentials, 403 for a
 * disabled client or one at an address its allow-list does not hold,
 * 429 once failures from the address or for the name are over the
 * limit. Returns 0 to go on, or 1 with the queued reply's result in ret.
 */
static int
authenticate(struct MHD_Connection *conn, struct request *rq,
             struct client_registry *clients, enum MHD_Result *ret)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn,
	                                                                &pass);
	const struct sockaddr *from = client_sockaddr(conn);
	enum client_check c = CLIENT_UNKNOWN;
	struct MHD_Response *resp;
	unsigned wait;

	if (user && pass && client_name_valid(user))
		c = client_registry_check(clients, user, pass, from,
		                          &rq->rules);
	if (user && client_name_valid(user))
		snprintf(rq->client, sizeof(rq->client), "%s", user);
	free(user);
	if (pass)
		free_secret_str(pass);
	if (c == CLIENT_OK) {
		rq->authenticated = true;
		return 0;
	}
	/* Not the client's failure: no bucket is charged. */
	if (c == CLIENT_UNAVAILABLE) {
		*ret = deny(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		            "clients file unreadable", 0);
		return 1;
	}
	if (c == CLIENT_DISABLED || c == CLIENT_ELSEWHERE) {
		*ret = deny(conn, rq, MHD_HTTP_FORBIDDEN, c == CLIENT_DISABLED ?
		            "client disabled" : "client address not allowed", 0);
		return 1;
	}
	wait = policy_limit_fail(rq->policy, from, rq->client, true);
	if (wait) {
		*ret = deny(conn, rq, MHD_HTTP_TOO_MANY_REQUESTS,
		            "too many failed authentications", wait);
		return 1;
	}
	rq->denied = rq->client[0] ? "wrong credentials" : "no credentials";
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	*ret = resp ? MHD_queue_basic_auth_fail_response(conn, "tether", resp)
	            : MHD_NO;
	if (*ret == MHD_YES)
		rq->status = MHD_HTTP_UNAUTHORIZED;
	if (resp)
		MHD_destroy_response(resp);
	return 1;
}

/* Decides on the request with the approvals state beside the clients
   file: fn is approvals_decide or approvals_heartbeat. */
static enum approval_decision
ask_approvals(struct MHD_Connection *conn, struct client_registry *clients,
              const struct request *rq,
              enum approval_decision (*fn)(const char *clients_path,
                                           const struct approval_ask *ask))
{
	char path[4096], addr[INET6_ADDRSTRLEN];
	struct approval_ask ask = {
		.name = rq->client, .address = addr, .kid = rq->match.kid,
		.approval = rq->rules.approval, .heartbeat = rq->rules.heartbeat,
		.now = (long long)time(NULL),
	};

	audit_address(client_sockaddr(conn), addr, sizeof(addr));
	if (client_registry_path(clients, path, sizeof(path)) < 0)
		return APPROVAL_UNAVAILABLE;
	return fn(path, &ask);
}

/*
 * A recovery by a client with approval=manual or a heartbeat period: on
 * with an operator's approval, or while its presence holds; else held
 * (503 with Retry-After, which boot scripts retry on; audited as
 * pending), or refused: presence expired, or denied. fn is
 * approvals_decide as the request arrives, approvals_use_once when its
 * key is ready. Returns 1 with the reply queued.
 */
static int
held(struct MHD_Connection *conn, struct client_registry *clients,
     struct request *rq, enum MHD_Result *ret,
     enum approval_decision (*fn)(const char *clients_path,
                                  const struct approval_ask *ask))
{
	struct reply rep = { .status = MHD_HTTP_SERVICE_UNAVAILABLE,
	                     .retry_after = APPROVAL_RETRY_AFTER };

	switch (ask_approvals(conn, clients, rq, fn)) {
	case APPROVAL_GRANTED:
		return 0;
	case APPROVAL_GRANTED_ONCE:
		rq->once = true;
		return 0;
	case APPROVAL_HELD:
		rq->pending = true;
		*ret = send_reply(conn, rq, &rep);
		return 1;
	case APPROVAL_REFUSED:
		*ret = deny(conn, rq, MHD_HTTP_FORBIDDEN, "approval denied", 0);
		return 1;
	case APPROVAL_EXPIRED:
		*ret = deny(conn, rq, MHD_HTTP_FORBIDDEN, "presence expired", 0);
		return 1;
	case APPROVAL_UNAVAILABLE:
		break;
	}
	*ret = deny(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
	            "approvals file unreadable", 0);
	return 1;
}

/*
 * POST /tether/heartbeat by an authenticated client: 204 once recorded,
 * 403 when its presence expired (refused until an operator approves it),
 * 503 when the state cannot be written. Returns 1 with the reply queued.
 */
static int
heartbeat(struct MHD_Connection *conn, struct client_registry *clients,
          struct request *rq, enum MHD_Result *ret)
{
	struct reply rep = { .status = MHD_HTTP_NO_CONTENT };

	switch (ask_approvals(conn, clients, rq, approvals_heartbeat)) {
	case APPROVAL_GRANTED:
		*ret = send_reply(conn, rq, &rep);
		return 1;
	case APPROVAL_EXPIRED:
		*ret = deny(conn, rq, MHD_HTTP_FORBIDDEN, "presence expired", 0);
		return 1;
	default:
		*ret = deny(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		            "approvals file unreadable", 0);
		return 1;
	}
}

/*
 * The policy, before anything else is read: an address over its failed
 * logins is turned away before its credentials cost a hash, then the
 * credentials, then the recovery rate. Returns 1 with the refusal queued.
 */
static int
refused(struct MHD_Connection *conn, const struct http_config *cfg,
        struct request *rq, enum MHD_Result *ret)
{
	const struct sockaddr *from = client_sockaddr(conn);
	unsigned wait = policy_limit_fail(rq->policy, from, NULL, false);
	struct client_registry *clients = __atomic_load_n(&cfg->clients,
	                                                  __ATOMIC_ACQUIRE);

	if (wait) {
		*ret = deny(conn, rq, MHD_HTTP_TOO_MANY_REQUESTS,
		            "too many failed authentications", wait);
		return 1;
	}
	if (clients && authenticate(conn, rq, clients, ret))
		return 1;
	if ((rq->match.route != ROUTE_REC && rq->match.route != ROUTE_HEARTBEAT) ||
	    !rq->match.method_ok)
		return 0;
	/* Heartbeats draw on the recoveries' buckets: one limit per client. */
	wait = policy_limit_rec(rq->policy, from, clients ? rq->client : NULL);
	if (wait) {
		*ret = deny(conn, rq, MHD_HTTP_TOO_MANY_REQUESTS,
		            "recovery rate limit", wait);
		return 1;
	}
	if (rq->match.route == ROUTE_HEARTBEAT)
		return clients && rq->authenticated ?
		       heartbeat(conn, clients, rq, ret) : 0;
	return clients && (rq->rules.approval || rq->rules.heartbeat) ?
	       held(conn, clients, rq, ret, approvals_decide) : 0;
}

/*
 * A recovery let through on a "once", its key ready: the "once" is used
 * up now, by the one reply that carries a key, so a request that failed
 * leaves it for the next. Gone meanwhile, it is held or refused as
 * approvals_use_once says: returns 1 with that reply queued and the key
 * dropped unsent.
 */
static int
key_withheld(struct MHD_Connection *conn, const struct http_config *cfg,
             struct request *rq, const struct reply *rep,
             char rec[ECMR_REPLY_MAX], enum MHD_Result *ret)
{
	struct client_registry *clients = __atomic_load_n(&cfg->clients,
	                                                  __ATOMIC_ACQUIRE);

	if (!rq->once || rep->status != MHD_HTTP_OK)
		return 0;
	if (clients && !held(conn, clients, rq, ret, approvals_use_once))
		return 0;
	explicit_bzero(rec, ECMR_REPLY_MAX);
	if (!clients)
		*ret = deny(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		            "approvals file unreadable", 0);
	return 1;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *data,
           size_t *data_len, void **req_cls)
{
	const struct http_config *cfg = cls;
	char rec[ECMR_REPLY_MAX];
	struct request *rq = *req_cls;
	struct keyset *ks;
	struct reply rep;
	enum MHD_Result ret;

	(void)version;
	(void)url;	/* decoded and cut at '?': rq->target is as sent */
	if (!rq)
		return MHD_NO;
	if (!rq->started) {
		unsigned bad;

		request_start(rq, method, cfg->policy);
		count_request(conn);
		bad = framing_refusal(conn, &rq->denied);
		if (bad) {
			rep = (struct reply){ .status = bad, .close = true };
			return send_reply(conn, rq, &rep);
		}
		if (refused(conn, cfg, rq, &ret))
			return ret;
		if (rq->target_too_long) {
			rep = (struct reply){ .status = MHD_HTTP_URI_TOO_LONG };
			return send_reply(conn, rq, &rep);
		}
		if (rq->match.route == ROUTE_REC && rq->match.method_ok &&
		    declared_too_large(conn)) {
			rq->too_large = true;
			rep = (struct reply){ .status = MHD_HTTP_CONTENT_TOO_LARGE };
			return send_reply(conn, rq, &rep);
		}
		return MHD_YES;
	}
	if (*data_len > 0) {
		if (rq->match.route == ROUTE_REC)
			take_body(rq, data, *data_len);
		*data_len = 0;
		return MHD_YES;
	}
	if (rq->status != 0)
		return MHD_YES;
	ks = keystore_get(cfg->keys);
	if (!ks) {
		rep = (struct reply){ .status = MHD_HTTP_INTERNAL_SERVER_ERROR };
		return send_reply(conn, rq, &rep);
	}
	rep = dispatch(ks, rq, rec);
	if (!key_withheld(conn, cfg, rq, &rep, rec, &ret))
		ret = send_reply(conn, rq, &rep);
	keyset_unref(ks);
	return ret;
}

/*
 * The request has arrived whole once a reply to it is queued: from then
 * on the connection is being answered, not waiting on its client.
 */
static enum MHD_Result
on_request_tracked(void *cls, struct MHD_Connection *conn, const char *url,
                   const char *method, const char *version, const char *data,
                   size_t *data_len, void **req_cls)
{
	enum MHD_Result ret = on_request(cls, conn, url, method, version, data,
	                                 data_len, req_cls);
	const struct request *rq = *req_cls;
	struct connection_state *cs;

	if (rq && rq->status && (cs = connection_state_of(conn)))
		conntrack_answering(cs->track, cs->id);
	return ret;
}

static const char *
recovery_reason(unsigned status)
{
	switch (status) {
	case MHD_HTTP_OK: return "recovered";
	case MHD_HTTP_BAD_REQUEST: return "not a point for this key";
	case MHD_HTTP_FORBIDDEN: return "key not for deriveKey";
	case MHD_HTTP_NOT_FOUND: return "unknown key";
	case MHD_HTTP_CONTENT_TOO_LARGE: return "body too large";
	case 0: return "no reply sent";
	default: return "server error";
	}
}

/* Every recovery and every refusal, whatever the route. */
static void
audit_request(struct MHD_Connection *conn, const struct request *rq)
{
	struct audit_event e = {
		.from = client_sockaddr(conn),
		.client = rq->client,
		.status = rq->status,
	};
	bool rec = rq->match.route == ROUTE_REC && rq->match.method_ok;

	if (rq->denied) {
		e.event = "denied";
		e.outcome = "denied";
		e.reason = rq->denied;
	} else if (rq->pending) {
		e.event = "pending";
		e.outcome = "pending";
		e.reason = "approval pending";
	} else if (rec) {
		e.event = "recovery";
		e.outcome = rq->status == MHD_HTTP_OK ? "ok" : "failed";
		e.reason = recovery_reason(rq->status);
	} else {
		return;
	}
	if (rec)
		e.kid = rq->match.kid;
	audit_write(&e);
	if (rq->denied)
		metrics_denial(rq->denied);
	if (rec)
		metrics_recovery(e.outcome, rq->authenticated ? rq->client : NULL);
}

static enum metrics_route
metrics_route_of(enum route r)
{
	switch (r) {
	case ROUTE_ADV:
	case ROUTE_ADV_KID: return METRICS_ROUTE_ADV;
	case ROUTE_REC: return METRICS_ROUTE_REC;
	default: return METRICS_ROUTE_OTHER;
	}
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *req_cls;
	struct connection_state *cs;
	char addr[64], status[12];
	unsigned long long us;

	(void)cls;
	cs = connection_state_of(conn);
	if (cs && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		conntrack_waiting(cs->track, cs->id);
	if (!rq)
		return;
	*req_cls = NULL;
	/* The library refused it before the handler saw it: on_connection
	   logs the connection. */
	if (!rq->started) {
		free(rq);
		return;
	}
	client_address(conn, addr, sizeof(addr));
	if (rq->status)
		snprintf(status, sizeof(status), "%u", rq->status);
	else
		snprintf(status, sizeof(status), "-");
	us = now_usec() - rq->start;
	log_line("%s %s %s %s %llu.%03llums%s%s%s", addr, rq->method, rq->path,
	         status, us / 1000, us % 1000, rq->client[0] ? " client " : "",
	         rq->client,
	         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
	         " (connection closed early)");
	audit_request(conn, rq);
	metrics_latency(metrics_route_of(rq->match.route), us);
	policy_unref(rq->policy);
	free(rq->body);
	free(rq);
}

static const char *
end_reason(enum conntrack_end end)
{
	switch (end) {
	case CONNTRACK_END_OVERDUE: return " (request overdue)";
	case CONNTRACK_END_MADE_ROOM: return " (closed to make room)";
	case CONNTRACK_END_NO_ROOM: return " (no room: all being answered)";
	default: return "";
	}
}

/*
 * Tracked from here to its close. A connection the tracker cannot take
 * is shut down at once, and one without state too: untracked, it would
 * escape the deadline and the caps.
 */
static struct connection_state *
connection_started(struct conntrack *track, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct connection_state *cs;

	if (!ci)
		return NULL;
	cs = calloc(1, sizeof(*cs));
	if (!cs) {
		shutdown(ci->connect_fd, SHUT_RDWR);
		return NULL;
	}
	cs->start = now_usec();
	cs->track = track;
	cs->id = conntrack_open(track, ci->connect_fd, client_sockaddr(conn));
	return cs;
}

/*
 * Malformed requests are answered by the library before any handler runs:
 * the connection's end is the one place left to log them.
 */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
	struct connection_state *cs = *socket_context;
	enum conntrack_end end = CONNTRACK_END_NONE;
	unsigned long long us;
	char addr[64];

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = connection_started(cls, conn);
		if (*socket_context)
			metrics_connection(true);
		return;
	}
	if (cs) {
		end = conntrack_close(cs->track, cs->id);
		metrics_connection(false);
	}
	if (cs && cs->requests == 0) {
		client_address(conn, addr, sizeof(addr));
		us = now_usec() - cs->start;
		log_line("%s - - - %llu.%03llums no valid request before the "
		         "connection closed%s", addr, us / 1000, us % 1000,
		         end_reason(end));
	}
	if (cs)
		tls_identity_unref(cs->tls);
	free(cs);
	*socket_context = NULL;
}

void
http_library_message(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("%s: %s", (const char *)cls, msg);
}

/*
 * TLS 1.2 and 1.3 only, forward-secret key exchange and AEAD ciphers only,
 * the server's preference first (GnuTLS priority syntax).
 */
#define TLS_PRIORITIES "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

/* Addresses outside --allow are closed on accept, before any work. */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	const struct http_config *cfg = cls;
	struct policy *p = policy_slot_get(cfg->policy);
	bool ok = policy_admits(p, addr);
	char name[64];

	(void)addrlen;
	policy_unref(p);
	if (ok)
		return MHD_YES;
	sockaddr_format(addr, name, sizeof(name));
	log_line("%s - - - refused: not in --allow", name);
	audit_write(&(struct audit_event){ .event = "denied", .from = addr,
	            .outcome = "denied", .reason = "address not allowed" });
	metrics_denial("address not allowed");
	return MHD_NO;
}

/*
 * GnuTLS asks at each handshake which certificate to present: the one in
 * force now, which the connection holds until it closes, so that a
 * reload changes it with no server restarted.
 */
static int
on_certificate(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
               int nreqs, const gnutls_pk_algorithm_t *pk_algos,
               int pk_algos_length, gnutls_pcert_st **chain,
               unsigned int *nchain, gnutls_privkey_t *key)
{
	struct MHD_Connection *conn = gnutls_session_get_ptr(session);
	struct connection_state *cs = conn ? connection_state_of(conn) : NULL;
	struct tls_identity *id;

	(void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
	if (!cs)
		return -1;
	id = tls_identity_get();
	if (!id)
		return -1;
	tls_identity_unref(cs->tls);
	cs->tls = id;
	*chain = id->chain;
	*nchain = id->nchain;
	*key = id->key;
	return 0;
}

static void
server_free(struct http_server *srv)
{
	if (!srv)
		return;
	/* A running server closes its socket itself. */
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	else if (srv->fd >= 0)
		close(srv->fd);
	conntrack_free(srv->track);
	free(srv);
}

/*
 * The library's own cap, above ours: a connection shut down to make room
 * stays open until its thread has seen the hang-up.
 */
unsigned
http_listener_capacity(const struct http_config *cfg)
{
	return cfg->connections + cfg->connections / 2 + 16;
}

static int
track_connections(struct http_server *srv)
{
	const struct http_config *cfg = &srv->cfg;
	struct conntrack_limits lim = {
		.connections = cfg->connections,
		.per_address = cfg->connections_per_address,
		.request_timeout = cfg->request_timeout,
		.capacity = http_listener_capacity(cfg),
	};

	return conntrack_new(&lim, &srv->track);
}

/* Takes fd: the server closes it when it is freed, never before. */
static struct http_server *
server_start(int fd, bool tls, const struct http_config *cfg)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct MHD_OptionItem tls_options[3];
	struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0, NULL } };
	struct MHD_OptionItem pool[] = { { MHD_OPTION_END, 0, NULL },
	                                 { MHD_OPTION_END, 0, NULL } };

	if (!srv) {
		close(fd);
		return NULL;
	}
	srv->fd = fd;
	srv->cfg = *cfg;
	if (track_connections(srv) < 0) {
		log_err("cannot track the connections of a listener");
		server_free(srv);
		return NULL;
	}
	/* One thread is the polling thread alone: the library warns of a
	   pool of one, or of none. */
	if (cfg->threads > 1)
		pool[0] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
		                                   cfg->threads, NULL };
	tls_options[0] = (struct MHD_OptionItem){
		MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)on_certificate };
	tls_options[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES,
	                                          0, (void *)TLS_PRIORITIES };
	tls_options[2] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	srv->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
		MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0),
		0, on_accept, &srv->cfg, on_request_tracked, &srv->cfg,
		MHD_OPTION_EXTERNAL_LOGGER, http_library_message, "http",
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_ARRAY, pool,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout,
		/* The caps are the tracker's (it makes room instead of refusing). */
		MHD_OPTION_CONNECTION_LIMIT, http_listener_capacity(cfg),
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv->track,
		MHD_OPTION_URI_LOG_CALLBACK, on_target, NULL,
		MHD_OPTION_ARRAY, tls ? tls_options : none,
		MHD_OPTION_END);
	if (!srv->daemon) {
		log_err("cannot start the HTTP%s server", tls ? "S" : "");
		server_free(srv);
		return NULL;
	}
	return srv;
}

struct http_listener *
http_listener_start(int fd, bool tls, const struct http_config *cfg)
{
	struct http_listener *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		return NULL;
	}
	l->live = server_start(fd, tls, cfg);
	if (!l->live) {
		free(l);
		return NULL;
	}
	return l;
}

void
http_listener_reload(struct http_listener *l, const struct http_config *cfg)
{
	__atomic_store_n(&l->live->cfg.clients, cfg->clients, __ATOMIC_RELEASE);
}

void
http_listener_stop(struct http_listener *l)
{
	if (!l)
		return;
	server_free(l->live);
	free(l);
}
