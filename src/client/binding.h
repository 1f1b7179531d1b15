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

/*
 * Stores jwe (compact) as the clevis binding of keyslot slot: a LUKS2
 * token (token, or any free one when token < 0), or on LUKS1 the luksmeta
 * slot of the keyslot (luksmeta must be initialised). A LUKS1 slot whose
 * keyslot is inactive but still holds clevis's metadata (left by an
 * interrupted bind) is cleared first. Returns the token id on LUKS2, the
 * slot on LUKS1, -EEXIST when the slot is already bound, -ENOSPC when
 * LUKS1's metadata area has no room, or another -errno.
 */
int binding_store(struct crypt_device *cd, int slot, int token,
                  const char *jwe);

/* Removes b's token or luksmeta data; its keyslot is left alone. */
int binding_erase(struct crypt_device *cd, const struct binding *b);

/*
 * LUKS1 only: 0 when luksmeta is initialised, -ENOENT when it is not,
 * -EINVAL when its header is corrupt.
 */
int binding_luks1_test(struct crypt_device *cd);

/* LUKS1 only: initialises luksmeta's header in the gap after LUKS's. */
int binding_luks1_init(struct crypt_device *cd);

/* The binding of slot among b, or NULL. */
const struct binding *bindings_find(const struct binding *b, size_t n,
                                    int slot);

#endif
