/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * clevis's tang pin. Binding: ECDH-ES to the server's exchange key S, so the
 * JWE key comes from cS for an ephemeral c whose public C = cG sits in the
 * header. Recovery without revealing C: send C + E for a fresh E = eG; the
 * server returns s(C + E); subtract eS to get sC = cS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/adv.h"
#include "client/ecdh_es.h"
#include "client/jwe.h"
#include "client/pin.h"
#include "client/request.h"
#include "common/ecmr.h"
#include "common/jwk.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"

#define ADV_FILE_MAX (256 * 1024)

/* An advertisement given in the config, as a JSON object or a file name. */
static int
configured_adv(const json_t *adv, json_t **jws)
{
	const char *path = json_string_value(adv);
	char *text, shown[128];
	size_t len;
	int r;

	if (json_is_object(adv)) {
		*jws = json_incref((json_t *)adv);
		return 0;
	}
	if (!path) {
		log_err("tang: 'adv' must be a file name or a JSON object");
		return -EINVAL;
	}
	log_escape(shown, sizeof(shown), path, strlen(path));
	r = read_file_at(AT_FDCWD, path, ADV_FILE_MAX, &text, &len);
	if (r < 0) {
		log_err("tang: advertisement file '%s': %s", shown, strerror(-r));
		return r;
	}
	*jws = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(*jws)) {
		json_decref(*jws);
		log_err("tang: advertisement file '%s' is not a JSON object", shown);
		return -EBADMSG;
	}
	return 0;
}

/*
 * The https trust a binding carries: "pin" (curl's sha256// key pin) or
 * "ca" (PEM CA certificates). clevis ignores both members. u borrows ca.
 */
static int
tang_tls_trust(const json_t *tang, struct url *u)
{
	const json_t *pin = json_object_get(tang, "pin");
	const json_t *ca = json_object_get(tang, "ca");

	if (!pin && !ca)
		return 0;
	if (!u->tls) {
		log_err("tang: 'pin' and 'ca' need an https:// url");
		return -EINVAL;
	}
	if (pin && !tls_pin_valid(json_string_value(pin))) {
		log_err("tang: 'pin' must be sha256// and a base64 SHA-256, as "
		        "curl's --pinnedpubkey");
		return -EINVAL;
	}
	if (ca && (!json_is_string(ca) ||
	           !strstr(json_string_value(ca), "-----BEGIN CERTIFICATE-----"))) {
		log_err("tang: 'ca' must be PEM CA certificates");
		return -EINVAL;
	}
	if (pin)
		snprintf(u->pin, sizeof(u->pin), "%s", json_string_value(pin));
	u->ca_pem = json_string_value(ca);
	return 0;
}

/*
 * Credentials as members, "client" and "token", for bindings written by
 * hand or by tools that keep the URL plain; the same as NAME:TOKEN@ in
 * the URL, which they may not repeat. Sent over https only.
 */
static int
tang_credentials(const json_t *tang, struct url *u)
{
	const char *name = json_string_value(json_object_get(tang, "client"));
	const char *token = json_string_value(json_object_get(tang, "token"));

	if (!json_object_get(tang, "client") && !json_object_get(tang, "token"))
		return 0;
	if (!name || !token || !*name || !*token ||
	    strlen(name) >= sizeof(u->user) || strlen(token) >= sizeof(u->pass) ||
	    strpbrk(name, ":\r\n") || strpbrk(token, "\r\n")) {
		log_err("tang: 'client' and 'token' go together, as strings of at "
		        "most %zu and %zu characters", sizeof(u->user) - 1,
		        sizeof(u->pass) - 1);
		return -EINVAL;
	}
	if (!u->tls) {
		log_err("tang: 'client' and 'token' need an https:// url: over "
		        "http the token would cross the network in clear");
		return -EINVAL;
	}
	if (u->user[0]) {
		log_err("tang: credentials in both the url and 'client'");
		return -EINVAL;
	}
	snprintf(u->user, sizeof(u->user), "%s", name);
	snprintf(u->pass, sizeof(u->pass), "%s", token);
	return 0;
}

int
tang_server(const json_t *tang, struct url *u)
{
	int r = server_url("tang", json_string_value(json_object_get(tang,
	                                                                "url")), u);

	if (r == 0)
		r = tang_tls_trust(tang, u);
	return r < 0 ? r : tang_credentials(tang, u);
}

/* Asks on the terminal, as clevis does, whether to trust the signers. */
static int
ask_trust(const json_t *jwks)
{
	json_t *signers = adv_signing_keys(jwks), *k;
	char thp[JWK_THP_MAX + 1], answer[8] = "";
	FILE *tty = fopen("/dev/tty", "r+");
	size_t i;

	if (!tty) {
		json_decref(signers);
		log_err("tang: no terminal to ask whether to trust the server's "
		        "keys: give \"thp\" or \"adv\", or -y");
		return -EPERM;
	}
	fprintf(tty, "The advertisement contains the following signing keys:\n\n");
	json_array_foreach(signers, i, k)
		if (jwk_thumbprint(k, JWK_THP_S256, thp) == 0)
			fprintf(tty, "%s\n", thp);
	fprintf(tty, "\nDo you wish to trust these keys? [ynYN] ");
	fflush(tty);
	if (!fgets(answer, sizeof(answer), tty))
		answer[0] = '\0';
	fclose(tty);
	json_decref(signers);
	if ((answer[0] == 'y' || answer[0] == 'Y') &&
	    (answer[1] == '\n' || answer[1] == '\0'))
		return 0;
	log_err("tang: the server's keys were not trusted");
	return -EPERM;
}

static int
trusted_keys(const json_t *cfg, bool trust, const struct url *u,
             json_t **jwks)
{
	const json_t *adv = json_object_get(cfg, "adv");
	const char *thp = json_string_value(json_object_get(cfg, "thp"));
	json_t *jws = NULL;
	int r;

	if (json_object_get(cfg, "thp") && !adv_is_kid(thp)) {
		log_err("tang: 'thp' must be a key thumbprint (base64url)");
		return -EINVAL;
	}
	if (adv) {
		r = configured_adv(adv, &jws);
		if (r == 0 && (r = adv_keys(jws, jwks)) < 0)
			log_err("tang: the configured advertisement is %s",
			        r == -EKEYREJECTED ? "not signed by every signing "
			        "key it lists" : "malformed");
	} else if (json_array_size(json_object_get(cfg, "trust")) && !trust &&
	           !thp) {
		r = adv_fetch_trusted(u, json_object_get(cfg, "trust"), &jws,
		                      jwks);
	} else {
		r = adv_fetch(u, thp, &jws, jwks);
	}
	json_decref(jws);
	if (r < 0)
		return r;
	if (!trust && thp && !adv_signed_by(*jwks, thp)) {
		log_err("tang: no signing key of the advertisement matches thp "
		        "'%s'", thp);
		r = -EKEYREJECTED;
	} else if (!trust && !thp && !adv &&
	           !json_array_size(json_object_get(cfg, "trust"))) {
		r = ask_trust(*jwks);
	}
	if (r < 0) {
		json_decref(*jwks);
		*jwks = NULL;
	}
	return r;
}

static int
tang_encrypt(const json_t *cfg, bool trust, const uint8_t *pt, size_t len,
             char **jwe)
{
	const char *url = json_string_value(json_object_get(cfg, "url"));
	char kid[JWK_THP_MAX + 1];
	json_t *jwks = NULL, *exc = NULL, *hdr = NULL;
	struct url u;
	int r;

	r = tang_server(cfg, &u);
	if (r == 0)
		r = trusted_keys(cfg, trust, &u, &jwks);
	if (r < 0)
		return r;
	exc = json_deep_copy(adv_exchange_key(jwks));
	if (!exc) {
		log_err("tang: %s advertises no exchange key", url);
		json_decref(jwks);
		return -ENOKEY;
	}
	json_object_del(exc, "key_ops");
	json_object_del(exc, "alg");
	r = jwk_thumbprint(exc, JWK_THP_S256, kid);
	if (r == 0) {
		hdr = json_pack("{s:s,s:s,s:s,s:{s:s,s:{s:s,s:O,s:O*,s:O*,s:O*,s:O*}}}",
		                "alg", "ECDH-ES", "enc", "A256GCM", "kid", kid,
		                "clevis", "pin", "tang", "tang", "url", url, "adv",
		                jwks, "pin", json_object_get(cfg, "pin"), "ca",
		                json_object_get(cfg, "ca"), "client",
		                json_object_get(cfg, "client"), "token",
		                json_object_get(cfg, "token"));
		r = hdr ? ecdh_es_encrypt(hdr, exc, pt, len, jwe) : -ENOMEM;
		if (r < 0)
			log_err("tang: encryption to %s's exchange key failed", url);
	}
	json_decref(hdr);
	json_decref(exc);
	json_decref(jwks);
	return r;
}

/*
 * The exchange key a binding names, found in the advertisement it holds.
 * Every key's SHA-256 thumbprint is tried before any SHA-1 one: kids are
 * SHA-256 but for old bindings, and SHA-1 costs a provider fetch.
 */
static const json_t *
bound_key(const json_t *tang, const char *kid)
{
	static const enum jwk_thp_hash hashes[] = { JWK_THP_S256, JWK_THP_S1 };
	const json_t *keys = json_object_get(json_object_get(tang, "adv"), "keys");
	char t[JWK_THP_MAX + 1];
	json_t *k;
	size_t i;

	for (size_t h = 0; h < ARRAY_SIZE(hashes); h++)
		json_array_foreach(keys, i, k)
			if (jwk_thumbprint(k, hashes[h], t) == 0 &&
			    strcmp(t, kid) == 0)
				return k;
	return NULL;
}

/*
 * Sends C + E and returns the server's s(C + E) unblinded: cS, the point
 * the binding's key was derived from, once the reply is checked to be a
 * point of the curve.
 */
static int
exchange(const struct url *u, const char *kid, const struct ecmr_blinding *b,
         const json_t *xfr, const char *crv, json_t **key)
{
	char suffix[JWK_THP_MAX + 8], where[URL_HOST_MAX + URL_PATH_MAX + 32];
	json_t *reply;
	int r;

	snprintf(suffix, sizeof(suffix), "/rec/%s", kid);
	r = server_request(u, "POST", suffix, xfr, &reply);
	if (r < 0)
		return r;
	r = ecmr_unblind(b, reply, key);
	/* s(C + E) and eS together give cS too. */
	jwk_free_wiped(reply);
	if (r == -EINVAL) {
		url_format(u, where, sizeof(where));
		log_err("%s: the server's reply is not a %s point", where, crv);
		return -EBADMSG;
	}
	return r;
}

static int
tang_decrypt(const json_t *jwe, const json_t *hdr, uint8_t **pt, size_t *len)
{
	const json_t *tang = json_object_get(json_object_get(hdr, "clevis"),
	                                     "tang");
	const json_t *epk = json_object_get(hdr, "epk"), *srv;
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	const char *url = json_string_value(json_object_get(tang, "url"));
	const char *crv = json_string_value(json_object_get(epk, "crv"));
	struct ecmr_blinding *blind = NULL;
	json_t *xfr = NULL, *key = NULL;
	struct url u;
	int r;

	if (!json_is_object(epk) || !crv || !adv_is_kid(kid) || !url) {
		log_err("tang: the JWE lacks epk, kid or clevis.tang.url");
		return -EBADMSG;
	}
	srv = bound_key(tang, kid);
	if (!srv) {
		log_err("tang: the JWE's kid is not a key of the advertisement "
		        "it holds");
		return -EBADMSG;
	}
	r = tang_server(tang, &u);
	if (r < 0)
		return r;
	r = ecmr_blind(epk, srv, &blind, &xfr);
	if (r == -EINVAL) {
		log_err("tang: the JWE's epk and its server's key are not both "
		        "%s points", crv);
		return -EBADMSG;
	}
	if (r < 0)
		return r;
	r = exchange(&u, kid, blind, xfr, crv, &key);
	if (r == 0) {
		r = jwe_decrypt(jwe, key, pt, len);
		if (r < 0 && r != -ENOPKG)
			log_err("tang: %s answered, but the JWE does not decrypt "
			        "with the result (damaged or tampered JWE, or the "
			        "wrong server)", url);
	}
	/* key is cS itself. */
	jwk_free_wiped(key);
	json_decref(xfr);
	ecmr_blinding_free(blind);
	return r;
}

const struct pin pin_tang = {
	.name = "tang",
	.summary = "a Tang server (tetherd or tangd)",
	.config_help =
	"  url     the server (required): http[s]://[NAME:TOKEN@]HOST[:PORT][/PATH]\n"
	"  thp     trust the advertisement signed by this key: its S256 or S1\n"
	"          thumbprint, as 'tether adv URL' prints it\n"
	"  adv     trust this advertisement: a file name or a JSON object;\n"
	"          encrypting then needs no server\n"
	"  ca      https: PEM CA certificates the server's certificate must\n"
	"          chain to (default: the system's CA bundle)\n"
	"  pin     https: the server's public key, sha256//BASE64 as curl's\n"
	"          --pinnedpubkey\n"
	"  client  https: the name of this machine's client credential\n"
	"  token   https: that client's token (or NAME:TOKEN@ in the url)\n"
	"  trust   signing keys (JWKs) trusted before: 'luks regen' keeps a\n"
	"          binding's trust this way\n"
	"Without thp or adv, or -y, the server's signing keys are shown and trust\n"
	"is asked for on the terminal.\n",
	.encrypt = tang_encrypt,
	.decrypt = tang_decrypt,
};
