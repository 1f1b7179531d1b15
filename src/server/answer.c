/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/answer.h"

#include <errno.h>

#include "server/recover.h"

static void
answer_adv_kid(struct keyset *ks, const char *kid, struct answer *out)
{
	const struct key *key = keyset_find(ks, kid);
	const struct keyset_text *t;
	int r;

	if (!key)
		return;
	r = keyset_key_adv(ks, key, &t);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		out->status = 500;
		return;
	}
	*out = (struct answer){ 200, ANSWER_TYPE_ADV, t->text, t->len };
}

void
answer_request(struct keyset *ks, const struct route_match *m,
               const char *body, size_t len, bool too_large,
               char rec[ECMR_REPLY_MAX], struct answer *out)
{
	*out = (struct answer){ .status = 404 };
	/* What Tang has not is not found, whatever the method. */
	if (m->route == ROUTE_NONE || m->route == ROUTE_HEARTBEAT)
		return;
	if (!m->method_ok) {
		out->status = 405;
		return;
	}
	switch (m->route) {
	case ROUTE_ADV:
		if (ks->adv)
			*out = (struct answer){ 200, ANSWER_TYPE_ADV, ks->adv,
			                        ks->adv_len };
		else
			out->status = 500;
		break;
	case ROUTE_ADV_KID:
		answer_adv_kid(ks, m->kid, out);
		break;
	case ROUTE_REC:
		out->status = too_large ? 413 :
		              recover(ks, m->kid, body, len, rec, &out->len);
		if (out->status == 200) {
			out->type = ANSWER_TYPE_REC;
			out->body = rec;
		}
		break;
	case ROUTE_NONE:
	case ROUTE_HEARTBEAT:
		break;
	}
}
