/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_BINDING_H
#define TETHER_BINDING_H

#include <stddef.h>

#include <libcryptsetup.h>

/*
 * A clevis binding: a keyslot whose passphrase is a JWE's plaintext. On
 * LUKS2 the JWE is a token of type "clevis", in clevis's layout:
 *   {"type":"clevis","keyslots":["SLOT"],"jwe":{flattened JWE}}
 * On LUKS1, clevis keeps it in a luksmeta slot under CLEVIS_LUKSMETA_UUID.
 */
#define CLEVIS_TOKEN_TYPE "clevis"

struct binding {
	int slot;
	int token;  /* the LUKS2 token id, -1 for a LUKS1 luksmeta slot */
	char *jwe;  /* compact */
};

/*
 * Reads a clevis token's JSON text: its single keyslot and its JWE in
 * compact form. -EBADMSG for anything that is not clevis's layout.
 */
int binding_from_token(const char *json, int *slot, char **jwe);

/* The token JSON text clevis writes for a compact JWE bound to slot. */
int binding_token_json(const char *jwe, int slot, char **json);

/*
 * Every clevis binding of a loaded LUKS1 or LUKS2 device, by slot. Tokens
 * that are not clevis's layout are skipped. 0, -ENOMEM or -EINVAL.
 */
int bindings_load(struct crypt_device *cd, struct binding **out, size_t *n);

void bindings_free(struct binding *b, size_t n);

/* The binding of slot among b, or NULL. */
const struct binding *bindings_find(const struct binding *b, size_t n,
                                    int slot);

#endif
