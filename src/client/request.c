/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/fetch.h"
#include "common/log.h"
#include "common/util.h"

int
server_url(const char *pin, const char *text, struct url *u)
{
	char shown[96];
	int r;

	if (!text) {
		log_err("%s: the configuration has no 'url'", pin);
		return -EINVAL;
	}
	r = url_parse(text, u);
	if (r == -EPERM) {
		log_err("%s: credentials in the url need https://: over http "
		        "the token would cross the network in clear", pin);
		return r;
	}
	if (r < 0) {
		log_escape(shown, sizeof(shown), text, strlen(text));
		log_err("%s: '%s' is not a server URL "
		        "(http://HOST[:PORT][/PATH], HOST a name, IPv4 or [IPv6])",
		        pin, shown);
		return -EINVAL;
	}
	return 0;
}

static void
report(const char *where, int r, const struct fetch_result *res,
       const struct fetch_timeouts *t)
{
	switch (r) {
	case -ECANCELED:
		/* The caller stopped waiting for this answer: no failure. */
		break;
	case -EHOSTUNREACH:
		log_err("%s: cannot resolve the server's name: %s", where,
		        res->detail[0] ? res->detail : "no address");
		break;
	case -ETIMEDOUT:
		log_err("%s: timed out (%s %s, limits %u s to connect, %u s in "
		        "all)", where, res->stage, res->addr,
		        t->connect_ms / 1000, t->total_ms / 1000);
		break;
	case -EBADMSG:
		log_err("%s: malformed HTTP reply from %s", where, res->addr);
		break;
	case -EMSGSIZE:
		log_err("%s: reply from %s larger than %d KiB", where,
		        res->addr, RESPONSE_MAX / 1024);
		break;
	case -EPROTO:
	case -EKEYREJECTED:
		if (strcmp(res->stage, "tls") == 0) {
			log_err("%s: TLS with %s failed: %s", where, res->addr,
			        res->detail[0] ? res->detail : strerror(-r));
			break;
		}
		/* fall through */
	default:
		log_err("%s: %s failed (%s): %s", where, res->stage, res->addr,
		        strerror(-r));
		break;
	}
}

/*
 * Says what a status other than 200 means for a Tang exchange: the
 * statuses a new user meets first get their cause and what to do.
 */
static int
report_status(const char *where, const char *suffix, const struct url *u,
              unsigned status)
{
	char name[sizeof(u->user) * 4];

	switch (status) {
	case 401:
		if (!u->user[0]) {
			log_err("%s: the server wants a client credential (HTTP "
			        "401): give it in the url as https://NAME:TOKEN@HOST, "
			        "or as the binding's \"client\" and \"token\"", where);
			return -EACCES;
		}
		log_escape(name, sizeof(name), u->user, strlen(u->user));
		log_err("%s: the server refused the credential of client '%s' "
		        "(HTTP 401): check its name and token", where, name);
		return -EACCES;
	case 404:
		if (strncmp(suffix, "/adv/", 5) == 0)
			log_err("%s: the server has no signing key with thumbprint "
			        "%s (HTTP 404); 'tether adv URL' lists its keys",
			        where, suffix + 5);
		else if (strncmp(suffix, "/rec/", 5) == 0)
			log_err("%s: the server has no exchange key with thumbprint "
			        "%s (HTTP 404): the key this was bound to is gone "
			        "from it", where, suffix + 5);
		else
			log_err("%s: not found (HTTP 404): is this a Tang server, "
			        "with its path?", where);
		return -ENOENT;
	default:
		log_err("%s: the server answered HTTP %u", where, status);
		return -EPROTO;
	}
}

/*
 * The request with the environment's timeouts; network failures logged
 * under where ("URL/SUFFIX"). On success release res with fetch_done.
 */
static int
exchange(const struct url *u, const char *method, const char *suffix,
         const json_t *body, char *where, size_t len,
         struct fetch_result *res)
{
	struct fetch_timeouts t;
	char *text = NULL;
	int r;

	url_format(u, where, len);
	strncat(where, suffix, len - strlen(where) - 1);
	if (fetch_timeouts_from_env(&t) < 0) {
		log_err("TETHER_CONNECT_TIMEOUT and TETHER_TIMEOUT must be "
		        "seconds from 1 to 3600");
		return -EINVAL;
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text)
			return -ENOMEM;
	}
	r = fetch(u, method, suffix, text ? "application/jwk+json" : NULL,
	          text, text ? strlen(text) : 0, &t, res);
	free(text);
	if (r < 0)
		report(where, r, res, &t);
	return r;
}

int
server_status(const struct url *u, const char *method, const char *suffix,
              unsigned *status)
{
	struct fetch_result res;
	char where[URL_HOST_MAX + URL_PATH_MAX + 160];
	int r = exchange(u, method, suffix, NULL, where, sizeof(where), &res);

	if (r < 0)
		return r;
	*status = res.response.status;
	fetch_done(&res);
	return 0;
}

int
server_request(const struct url *u, const char *method, const char *suffix,
               const json_t *body, json_t **reply)
{
	struct fetch_result res;
	char where[URL_HOST_MAX + URL_PATH_MAX + 160];
	json_t *obj;
	int r;

	r = exchange(u, method, suffix, body, where, sizeof(where), &res);
	if (r < 0)
		return r;
	if (res.response.status != 200) {
		r = report_status(where, suffix, u, res.response.status);
		fetch_done(&res);
		return r;
	}
	obj = json_loadb(res.response.body, res.response.body_len, 0, NULL);
	fetch_done(&res);
	if (!json_is_object(obj)) {
		log_err("%s: the reply is not a JSON object", where);
		json_decref(obj);
		return -EBADMSG;
	}
	*reply = obj;
	return 0;
}
