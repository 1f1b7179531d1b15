/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_DESCRIBE_H
#define TETHER_DESCRIBE_H

#include <jansson.h>

/*
 * What a binding's JWE says about itself, from its protected header only:
 * nothing here contacts a server or needs a key.
 */

/*
 * The pin and its configuration as `clevis luks list` prints them, byte
 * for byte: tang '{"url":"..."}', sss '{"t":N,"pins":{...}}', or
 * unknown pin 'NAME'. Free *text with free(). 0, -EBADMSG or -ENOMEM.
 */
int describe_binding(const char *jwe, char **text);

/*
 * A configuration that binds again to the same servers: tang pins get
 * the signing keys the binding trusted as "trust" (see adv_fetch_trusted),
 * sss keeps its threshold and its pins, tpm2 its algorithms and PCRs
 * (sealed again to their values then). *pin is borrowed from the JWE's
 * name table. -ENOTSUP for a pin tether cannot bind.
 */
int rebind_config(const char *jwe, const char **pin, json_t **cfg);

/*
 * Calls fn for each tang pin in the binding (nested sss included) with
 * its url and the key set of the advertisement it stored.
 */
int describe_tang_pins(const char *jwe,
                       int (*fn)(const char *url, const json_t *jwks,
                                 void *arg),
                       void *arg);

/* The same walk, handing fn each tang pin's whole configuration. */
int describe_tang_configs(const char *jwe,
                          int (*fn)(const json_t *cfg, void *arg), void *arg);

#endif
