/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/describe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/adv.h"
#include "client/jwe.h"
#include "common/b64.h"
#include "common/util.h"

/* sss inside sss inside ...: deeper than any real policy. */
#define NESTING_MAX 8

/* The decoded protected header of a compact JWE, or NULL. */
static json_t *
protected_header(const char *jwe)
{
	const char *dot = strchr(jwe, '.');

	return dot ? b64_decode_objectn(jwe, (size_t)(dot - jwe), JWE_MAX) :
	             NULL;
}

static const char *
header_pin(const json_t *hdr, const json_t **cfg)
{
	const json_t *clevis = json_object_get(hdr, "clevis");
	const char *pin = json_string_value(json_object_get(clevis, "pin"));

	*cfg = pin ? json_object_get(clevis, pin) : NULL;
	return pin;
}

static int describe_header(FILE *f, const json_t *hdr, int depth);

/* The pins an sss line groups, by a name that outlives the header. */
static const char *
known_pin(const char *pin)
{
	static const char *const names[] = { "tang", "tpm2", "sss" };

	for (size_t i = 0; pin && i < ARRAY_SIZE(names); i++)
		if (strcmp(pin, names[i]) == 0)
			return names[i];
	return NULL;
}

/* clevis's tang line: the url, unescaped, in a JSON-looking frame. */
static void
describe_tang(FILE *f, const json_t *cfg)
{
	const char *url = json_string_value(json_object_get(cfg, "url"));

	fprintf(f, "tang '{\"url\":\"%s\"}'", url ? url : "");
}

static void
describe_tpm2(FILE *f, const json_t *cfg)
{
	static const char *const keys[] = {
		"hash", "key", "pcr_bank", "pcr_ids", "pcr_digest",
	};
	bool first = true;

	fputs("tpm2 '{", f);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = json_string_value(json_object_get(cfg, keys[i]));

		if (!v)
			continue;
		fprintf(f, "%s\"%s\":\"%s\"", first ? "" : ",", keys[i], v);
		first = false;
	}
	fputs("}'", f);
}

/*
 * The description of one nested JWE with its quotes removed, as clevis's
 * `tr -d "'"` leaves it; NULL when it cannot be read.
 */
static char *
describe_nested(const char *jwe, const char **pin, int depth)
{
	json_t *hdr = protected_header(jwe);
	const json_t *cfg;
	char *text = NULL, *w = NULL;
	size_t len = 0;
	FILE *f;

	*pin = hdr ? known_pin(header_pin(hdr, &cfg)) : NULL;
	if (!*pin || (f = open_memstream(&text, &len)) == NULL) {
		json_decref(hdr);
		return NULL;
	}
	describe_header(f, hdr, depth);
	fclose(f);
	json_decref(hdr);
	/* "tang '{...}'" becomes "{...}": the config after the pin name. */
	if (text && (w = strchr(text, ' ')) != NULL) {
		char *out = text, *r;

		for (r = w + 1; *r; r++)
			if (*r != '\'')
				*out++ = *r;
		*out = '\0';
		return text;
	}
	free(text);
	return NULL;
}

/* The description of a nested JWE of pin want, or NULL. */
static char *
nested_of_pin(const json_t *v, const char *want, int depth)
{
	const char *pin = NULL;
	char *cfg;

	if (!json_is_string(v))
		return NULL;
	cfg = describe_nested(json_string_value(v), &pin, depth + 1);
	if (cfg && pin && strcmp(pin, want) == 0)
		return cfg;
	free(cfg);
	return NULL;
}

/* One pin's list in the sss line: "tang":[{...},{...}]. */
static void
describe_group(FILE *f, const json_t *jwes, const char *want, int depth,
               bool *any)
{
	const json_t *v;
	bool started = false;
	size_t i;

	json_array_foreach(jwes, i, v) {
		char *cfg = nested_of_pin(v, want, depth);

		if (!cfg)
			continue;
		fprintf(f, "%s%s%s", started ? "," : *any ? ",\"" : "\"",
		        started ? "" : want, started ? "" : "\":[");
		fputs(cfg, f);
		started = true;
		free(cfg);
	}
	if (started) {
		fputs("]", f);
		*any = true;
	}
}

/*
 * clevis keeps only the last nested sss it reads, printed bare:
 * "sss":{...}. Reproduced as it is, so both tools list the same line.
 */
static void
describe_last_sss(FILE *f, const json_t *jwes, int depth, bool any)
{
	char *last = NULL;
	const json_t *v;
	size_t i;

	json_array_foreach(jwes, i, v) {
		char *cfg = nested_of_pin(v, "sss", depth);

		if (cfg) {
			free(last);
			last = cfg;
		}
	}
	if (last)
		fprintf(f, "%s\"sss\":%s", any ? "," : "", last);
	free(last);
}

static void
describe_sss(FILE *f, const json_t *cfg, int depth)
{
	const json_t *jwes = json_object_get(cfg, "jwe");
	json_int_t t = json_integer_value(json_object_get(cfg, "t"));
	bool any = false;

	fprintf(f, "sss '{\"t\":%lld,\"pins\":{", (long long)t);
	if (depth < NESTING_MAX) {
		describe_group(f, jwes, "tang", depth, &any);
		describe_group(f, jwes, "tpm2", depth, &any);
		describe_last_sss(f, jwes, depth, any);
	}
	fputs("}}'", f);
}

static int
describe_header(FILE *f, const json_t *hdr, int depth)
{
	const json_t *cfg;
	const char *pin = header_pin(hdr, &cfg);

	if (!pin)
		return -EBADMSG;
	if (strcmp(pin, "tang") == 0)
		describe_tang(f, cfg);
	else if (strcmp(pin, "tpm2") == 0)
		describe_tpm2(f, cfg);
	else if (strcmp(pin, "sss") == 0)
		describe_sss(f, cfg, depth);
	else
		fprintf(f, "unknown pin '%s'", pin);
	return 0;
}

int
describe_binding(const char *jwe, char **text)
{
	json_t *hdr = protected_header(jwe);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (!hdr)
		return -EBADMSG;
	f = open_memstream(&buf, &len);
	if (!f) {
		json_decref(hdr);
		return -ENOMEM;
	}
	r = describe_header(f, hdr, 0);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	json_decref(hdr);
	if (r < 0) {
		free(buf);
		return r;
	}
	*text = buf;
	return 0;
}

static int rebind_header(const json_t *hdr, int depth, const char **pin,
                         json_t **cfg);

static int
rebind_tang(const json_t *tang, json_t **cfg)
{
	const char *url = json_string_value(json_object_get(tang, "url"));
	json_t *signers = adv_signing_keys(json_object_get(tang, "adv"));

	if (!url || !signers) {
		json_decref(signers);
		return -EBADMSG;
	}
	*cfg = json_pack("{s:s,s:o,s:O*,s:O*}", "url", url, "trust", signers,
	                 "pin", json_object_get(tang, "pin"), "ca",
	                 json_object_get(tang, "ca"));
	return *cfg ? 0 : -ENOMEM;
}

/* The same TPM and policy, sealed again to the PCRs as they are then. */
static int
rebind_tpm2(const json_t *tpm2, json_t **cfg)
{
	static const char *const keys[] = { "hash", "key", "pcr_bank", "pcr_ids" };

	*cfg = json_object();
	for (size_t i = 0; *cfg && i < ARRAY_SIZE(keys); i++) {
		const json_t *v = json_object_get(tpm2, keys[i]);

		if (v && (!json_is_string(v) ||
		          json_object_set(*cfg, keys[i], (json_t *)v) < 0)) {
			json_decref(*cfg);
			*cfg = NULL;
			return json_is_string(v) ? -ENOMEM : -EBADMSG;
		}
	}
	return *cfg ? 0 : -ENOMEM;
}

static int
rebind_sss(const json_t *sss, int depth, json_t **cfg)
{
	const json_t *jwes = json_object_get(sss, "jwe"), *v;
	json_t *pins = json_object();
	size_t i;
	int r = pins ? 0 : -ENOMEM;

	if (depth >= NESTING_MAX || !json_is_integer(json_object_get(sss, "t")))
		r = -EBADMSG;
	json_array_foreach(jwes, i, v) {
		json_t *hdr, *sub = NULL, *list;
		const char *pin;

		if (r < 0)
			break;
		hdr = json_is_string(v) ? protected_header(json_string_value(v))
		                        : NULL;
		r = hdr ? rebind_header(hdr, depth + 1, &pin, &sub) : -EBADMSG;
		if (r == 0) {
			list = json_object_get(pins, pin);
			if (!list && json_object_set_new(pins, pin,
			                                 list = json_array()) < 0)
				r = -ENOMEM;
			if (r == 0 && json_array_append(list, sub) < 0)
				r = -ENOMEM;
		}
		json_decref(sub);
		json_decref(hdr);
	}
	if (r == 0) {
		*cfg = json_pack("{s:O,s:O}", "t", json_object_get(sss, "t"),
		                 "pins", pins);
		r = *cfg ? 0 : -ENOMEM;
	}
	json_decref(pins);
	return r;
}

static int
rebind_header(const json_t *hdr, int depth, const char **pin, json_t **cfg)
{
	const json_t *pcfg;

	*pin = header_pin(hdr, &pcfg);
	if (!*pin)
		return -EBADMSG;
	if (strcmp(*pin, "tang") == 0)
		return rebind_tang(pcfg, cfg);
	if (strcmp(*pin, "sss") == 0)
		return rebind_sss(pcfg, depth, cfg);
	if (strcmp(*pin, "tpm2") == 0)
		return rebind_tpm2(pcfg, cfg);
	if (strcmp(*pin, "null") == 0) {
		*cfg = json_object();
		return *cfg ? 0 : -ENOMEM;
	}
	return -ENOTSUP;
}

int
rebind_config(const char *jwe, const char **pin, json_t **cfg)
{
	static const char *const names[] = { "tang", "sss", "tpm2", "null" };
	json_t *hdr = protected_header(jwe);
	const char *p = NULL;
	int r;

	if (!hdr)
		return -EBADMSG;
	r = rebind_header(hdr, 0, &p, cfg);
	/* The name outlives the header it came from. */
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(names); i++)
		if (strcmp(p, names[i]) == 0)
			*pin = names[i];
	json_decref(hdr);
	return r;
}

static int
walk_tang(const json_t *hdr, int depth,
          int (*fn)(const json_t *cfg, void *), void *arg)
{
	const json_t *cfg, *v;
	const char *pin = header_pin(hdr, &cfg);
	size_t i;
	int r = 0;

	if (!pin || depth >= NESTING_MAX)
		return -EBADMSG;
	if (strcmp(pin, "tang") == 0)
		return fn(cfg, arg);
	if (strcmp(pin, "sss") != 0)
		return 0;
	json_array_foreach(json_object_get(cfg, "jwe"), i, v) {
		json_t *sub = json_is_string(v) ?
			protected_header(json_string_value(v)) : NULL;

		r = sub ? walk_tang(sub, depth + 1, fn, arg) : -EBADMSG;
		json_decref(sub);
		if (r < 0)
			break;
	}
	return r;
}

int
describe_tang_configs(const char *jwe,
                      int (*fn)(const json_t *cfg, void *arg), void *arg)
{
	json_t *hdr = protected_header(jwe);
	int r;

	if (!hdr)
		return -EBADMSG;
	r = walk_tang(hdr, 0, fn, arg);
	json_decref(hdr);
	return r;
}

struct pin_walk {
	int (*fn)(const char *url, const json_t *jwks, void *arg);
	void *arg;
};

static int
pin_of_config(const json_t *cfg, void *arg)
{
	const struct pin_walk *w = arg;

	return w->fn(json_string_value(json_object_get(cfg, "url")),
	             json_object_get(cfg, "adv"), w->arg);
}

int
describe_tang_pins(const char *jwe,
                   int (*fn)(const char *url, const json_t *jwks, void *arg),
                   void *arg)
{
	struct pin_walk w = { fn, arg };

	return describe_tang_configs(jwe, pin_of_config, &w);
}
