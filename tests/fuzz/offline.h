/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_FUZZ_OFFLINE_H
#define TETHER_FUZZ_OFFLINE_H

#include <stddef.h>

/*
 * The world outside a pin, kept inside the fuzz target, so that inputs
 * reach the code behind the network without a network. Targets linked
 * with offline.c are built with
 *   -Wl,--wrap=fetch,--wrap=read_file_at,--wrap=fopen
 * so that:
 *  - every fetch is answered by tetherd's own route_match and
 *    answer_request from the keys in tests/fuzz/keys (the keys of the
 *    tangd that answered when the corpus was made), whatever the URL;
 *  - read_file_at(AT_FDCWD, ...), a tang config's "adv" file, finds only
 *    OFFLINE_ADV_FILE (that server's advertisement); other directories
 *    are read as usual;
 *  - fopen("/dev/tty") fails, as with no terminal.
 * offline.c's LLVMFuzzerInitialize loads the keys (or aborts).
 */
#define OFFLINE_ADV_FILE "adv.jws"

/*
 * Answers every GET with status 200 and body (borrowed, len bytes) until
 * called again with NULL; POSTs still go to the keys.
 */
void offline_serve_get(const char *body, size_t len);

/* The S256 thumbprint of the fixture's signing key. */
const char *offline_signer_thp(void);

/*
 * Reads a binding's compact JWE as the token plugin's validate
 * (describe_binding) and open (pin_decrypt, through the exchanges above)
 * do, and as `tether luks report`, `trust` and `regen` do
 * (describe_tang_pins, rebind_config). Aborts on a result out of contract.
 */
void offline_read_binding(const char *jwe);

#endif
