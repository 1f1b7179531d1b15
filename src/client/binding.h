/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_BINDING_H
#define TETHER_BINDING_H

#include <stdbool.h>
#include <stddef.h>

#include <libcryptsetup.h>

/*
 * A clevis binding: a keyslot whose passphrase is a JWE's plaintext. On
 * LUKS2 the JWE is a token of type "clevis", in clevis's layout:
 *   {"type":"clevis","keyslots":["SLOT"],"jwe":{flattened JWE}}
 * On LUKS1, clevis keeps it in a luksmeta slot under CLEVIS_LUKSMETA_UUID.
 */
#define CLEVIS_TOKEN_TYPE "clevis"

/*
 * What tether writes besides clevis's layout, so that the next command can
 * tell what an interrupted one left (clevis and libcryptsetup ignore both):
 * - a token of type "tether-pending" carrying a binding's JWE and the
 *   keyslot N it is about, {"type":"tether-pending","keyslots":[],
 *   "slot":"N","jwe":{...}}: written before keyslot N is added, it becomes
 *   the binding's token once N is. Assigned to N ("keyslots":["N"]), it
 *   says N is being removed: libcryptsetup drops N from it when N goes,
 *   so it always names the keyslot it was written for.
 * - a member "tether-spare-for":"N" in the token (or pending token) of
 *   the second binding regen and edit verify before they replace the
 *   binding of slot N.
 */
#define PENDING_TOKEN_TYPE "tether-pending"
#define SPARE_MEMBER "tether-spare-for"

enum token_kind {
	TOKEN_BINDING,   /* clevis's layout */
	TOKEN_PENDING,   /* before its keyslot is added */
	TOKEN_REMOVING,  /* pending, assigned to the keyslot being removed */
};

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
 * Reads a "tether-pending" token: the keyslot it was written for, whether
 * it is still assigned to it (TOKEN_REMOVING) and its JWE in compact
 * form. -EBADMSG for anything else.
 */
int binding_from_pending(const char *json, int *slot, bool *removing,
                         char **jwe);

/* A clevis token assigned to no keyslot: its keyslot was destroyed. */
bool binding_token_dangling(const char *json);

/* The slot a (pending) spare binding's token stands in for, or -ENOENT. */
int binding_token_spare_of(const char *json);

/*
 * Writes a LUKS2 token of kind for jwe and keyslot slot, marked as the
 * spare of slot spare_of when that is >= 0, as token id token (replacing
 * what is there) or in any free one when token < 0. The keyslot of a
 * TOKEN_BINDING or TOKEN_REMOVING must exist. Returns the token id or
 * -errno.
 */
int binding_token_write(struct crypt_device *cd, int token,
                        enum token_kind kind, const char *jwe, int slot,
                        int spare_of);

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
 * Removes b's keyslot and its token or luksmeta data. libcryptsetup wipes
 * a keyslot's key material before the header stops listing it, and a run
 * killed in between leaves a keyslot no key opens: on LUKS2 the token
 * first becomes TOKEN_REMOVING, which tells the next command it is one to
 * remove; on LUKS1 a record does (luks1_journal.h).
 */
int binding_remove(struct crypt_device *cd, const struct binding *b);

/*
 * LUKS1 only: 0 when luksmeta is initialised, -ENOENT when it is not,
 * -EINVAL when its header is corrupt.
 */
int binding_luks1_test(struct crypt_device *cd);

/* LUKS1 only: initialises luksmeta's header in the gap after LUKS's. */
int binding_luks1_init(struct crypt_device *cd);

/*
 * LUKS1 only: clevis's luksmeta data of keyslots that are not in use (an
 * interrupted bind or unbind): how many, wiped first when wipe is true.
 */
int binding_luks1_debris(struct crypt_device *cd, bool wipe);

/*
 * LUKS1 only: the JWE clevis's luksmeta data of keyslot slot holds,
 * whether the keyslot is in use or not. -ENODATA when it holds none.
 */
int binding_luks1_jwe(struct crypt_device *cd, int slot, char **jwe);

/* The binding of slot among b, or NULL. */
const struct binding *bindings_find(const struct binding *b, size_t n,
                                    int slot);

#endif
