/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_REQUEST_H
#define TETHER_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "common/url.h"

/*
 * One exchange with a Tang server: method on the URL's path + suffix, an
 * optional JSON body, a 200 reply holding a JSON object. Every failure is
 * logged once, naming the server and the cause (unresolvable name, the
 * address that refused or timed out, the HTTP status and what it means, a
 * reply that is not JSON). Returns 0 with *reply set, or -errno: for a
 * status other than 200, -EACCES for 401 (a client credential is wanted
 * or was refused), -ENOENT for 404 (on /adv/THP or /rec/KID: no such key)
 * and -EPROTO for the others.
 */
int server_request(const struct url *u, const char *method,
                   const char *suffix, const json_t *body, json_t **reply);

/*
 * One exchange with no body whose answer is its status alone (tether's
 * own endpoints: POST /tether/heartbeat). Network failures are logged as
 * server_request logs them and returned as -errno; any HTTP status is
 * 0 with *status set, for the caller to say what it means.
 */
int server_status(const struct url *u, const char *method,
                  const char *suffix, unsigned *status);

/* Parses a server URL from a pin config, logging a refusal. */
int server_url(const char *pin, const char *text, struct url *u);

#endif
