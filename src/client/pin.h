/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_PIN_H
#define TETHER_PIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/url.h"

/*
 * A clevis pin: how a secret is bound (encrypt) and recovered (decrypt).
 * Both log why they failed, naming the server, and return -errno; the
 * plaintext they return is freed with free_secret().
 */
struct pin {
	const char *name;
	/* What the pin binds to, for 'tether encrypt --help'. */
	const char *summary;
	/* CONFIG's members, one per line, for 'tether encrypt PIN --help'. */
	const char *config_help;
	int (*encrypt)(const json_t *cfg, bool trust, const uint8_t *pt,
	               size_t len, char **jwe);
	int (*decrypt)(const json_t *jwe, const json_t *hdr, uint8_t **pt,
	               size_t *len);
};

extern const struct pin pin_tang;

/*
 * The server a tang pin's configuration names, with what the binding
 * carries beyond clevis's url: its https trust anchor ("pin" or "ca",
 * borrowed from tang) and client credential (in the url, or "client" and
 * "token"), each refused over plain http. Logs why not; -EINVAL, -EPERM.
 */
int tang_server(const json_t *tang, struct url *u);
extern const struct pin pin_sss;
extern const struct pin pin_null;
extern const struct pin pin_tpm2;

/* The known pins' names, ", " between them, for messages. */
const char *pin_names(void);

/* Prints each pin's name and summary, one per line, indented. */
void pin_list(FILE *f);

/* The pin called name, or NULL. */
const struct pin *pin_find(const char *name);

/* Encrypts with the pin called name; -ENOENT for an unknown pin. */
int pin_encrypt(const char *name, const json_t *cfg, bool trust,
                const uint8_t *pt, size_t len, char **jwe);

/*
 * Decrypts a compact JWE with the pin its header names. -EBADMSG for a
 * malformed JWE, -ENOENT for an unknown pin.
 */
int pin_decrypt(const char *compact, size_t clen, uint8_t **pt, size_t *len);

#endif
