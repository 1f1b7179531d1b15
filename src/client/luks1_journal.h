/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_LUKS1_JOURNAL_H
#define TETHER_LUKS1_JOURNAL_H

#include <stdbool.h>

#include <libcryptsetup.h>

/*
 * LUKS1 has no tokens to mark work in progress with, so tether keeps a
 * record of it in the luksmeta slot of an unused keyslot (the highest
 * free one: cryptsetup and clevis take the lowest), under its own UUID,
 * which clevis ignores. Two kinds, JSON text:
 *
 * - {"removing":N,"salt":HEX}: keyslot N is being removed. N is known by
 *   the salt its header entry had when the record was written, so a
 *   keyslot added in N's place since is never taken for it. The binding
 *   goes first, then the keyslot: at no instant does a binding name a
 *   keyslot whose key material is being wiped.
 * - {"spare":S,"for":N,"jwe":HEX}: keyslot S is the spare binding regen
 *   and edit verify before they make N again; HEX is the SHA-256 of its
 *   JWE, so only that binding is ever taken for the spare.
 */

/* Removes keyslot slot and its clevis binding, under a "removing" record. */
int luks1_remove(struct crypt_device *cd, int slot);

/*
 * Writes the "spare" record for a binding of jwe about to be added in
 * keyslot spare, standing in for slot of. Returns the record's slot.
 */
int luks1_record_spare(struct crypt_device *cd, int spare, int of,
                       const char *jwe);

/* Wipes every record about keyslot slot. */
void luks1_forget(struct crypt_device *cd, int slot);

/*
 * The next command's part: each record's work finished or undone
 * (a "removing" record's keyslot goes, unless it is the last; a spare
 * goes when the slot it stood in for is bound again, and is the binding
 * otherwise), then the record wiped. With clear false nothing changes.
 * Each record found is logged, prefixed by dev. Returns how many records
 * were found and not cleared, or -errno.
 */
int luks1_sweep(struct crypt_device *cd, const char *dev, bool clear);

#endif
