/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_ROUTE_H
#define TETHERD_ROUTE_H

#include <stddef.h>

#include "common/jwk.h"

/* Tang's three endpoints; anything else is not found. */
enum route {
	ROUTE_NONE,	/* no such path: 404 */
	ROUTE_ADV,	/* GET /adv, /adv/ */
	ROUTE_ADV_KID,	/* GET /adv/{kid} */
	ROUTE_REC,	/* POST /rec/{kid} */
	ROUTE_HEARTBEAT,	/* POST /tether/heartbeat: not Tang's; for an
			   authenticated client only, 404 to anyone else */
};

struct route_match {
	enum route route;
	int method_ok;	/* 0: the path exists but not for this method: 405 */
	char kid[JWK_THP_MAX + 1];
};

/*
 * Matches a request the way Tang's dispatch table does: repeated slashes
 * are accepted ("//adv//kid"), a kid is [0-9A-Za-z_-]+. A kid longer than
 * any thumbprint can never match a key and is routed to ROUTE_NONE.
 */
void route_match(const char *method, const char *path, struct route_match *m);

#endif
