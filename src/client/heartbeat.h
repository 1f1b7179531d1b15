/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_HEARTBEAT_H
#define TETHER_HEARTBEAT_H

#include <jansson.h>

/*
 * tetherd's presence: POST /tether/heartbeat to each distinct server
 * among configs (a JSON array of tang pin configurations) that carries a
 * client credential, over https with the configuration's trust anchor,
 * as a recovery would reach it. One line per server on standard output:
 * ok, refused (the status and what it means), failed (the cause logged),
 * or skipped for want of a credential. Returns 0 when at least one
 * server recorded the heartbeat, -ENOENT when no server has a
 * credential, -EACCES when none recorded it.
 */
int heartbeat_servers(const json_t *configs);

#endif
