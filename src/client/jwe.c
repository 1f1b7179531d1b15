/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/jwe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jose/b64.h>
#include <jose/io.h>
#include <jose/jwe.h>

#include "common/jwk.h"
#include "common/util.h"

static const char *const jwe_parts[] = {
	"protected", "encrypted_key", "iv", "ciphertext", "tag",
};

static int
is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
jwe_parse_compact(const char *text, size_t len, json_t **jwe, json_t **hdr)
{
	const char *p = text, *end;
	json_t *obj, *h;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
	                   text[len - 1] == ' '))
		len--;
	if (len == 0 || len > JWE_MAX)
		return -EBADMSG;
	end = text + len;
	obj = json_object();
	if (!obj)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(jwe_parts); i++) {
		const char *q = p;
		size_t n;

		while (q < end && is_b64url(*q))
			q++;
		n = (size_t)(q - p);
		/* Clevis's pins use direct key agreement: no encrypted key.
		   Only the ciphertext of an empty plaintext may be empty. */
		if ((i < 4 ? q == end || *q != '.' : q != end) ||
		    (i == 1 ? n != 0 : n == 0 && i != 3) ||
		    (i != 1 && json_object_set_new(obj, jwe_parts[i],
		                                   json_stringn(p, n)) < 0)) {
			json_decref(obj);
			return -EBADMSG;
		}
		p = q + 1;
	}
	h = jose_b64_dec_load(json_object_get(obj, "protected"));
	if (!json_is_object(h)) {
		json_decref(h);
		json_decref(obj);
		return -EBADMSG;
	}
	*jwe = obj;
	*hdr = h;
	return 0;
}

int
jwe_format_compact(const json_t *jwe, char **out)
{
	const char *v[ARRAY_SIZE(jwe_parts)];
	size_t n = 0;
	char *s;

	if (json_object_get(jwe, "header") || json_object_get(jwe, "unprotected") ||
	    json_object_get(jwe, "aad") || json_object_get(jwe, "recipients"))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(jwe_parts); i++) {
		const json_t *part = json_object_get(jwe, jwe_parts[i]);

		v[i] = part ? json_string_value(part) : "";
		if (!v[i])
			return -EINVAL;
		n += strlen(v[i]) + 1;
	}
	s = malloc(n);
	if (!s)
		return -ENOMEM;
	snprintf(s, n, "%s.%s.%s.%s.%s", v[0], v[1], v[2], v[3], v[4]);
	*out = s;
	return 0;
}

const char *
jwe_pin(const json_t *hdr)
{
	return json_string_value(json_object_get(
		json_object_get(hdr, "clevis"), "pin"));
}

int
jwe_encrypt(const json_t *hdr, const json_t *jwk, const uint8_t *pt,
            size_t len, char **out)
{
	json_t *jwe = json_pack("{s:O}", "protected", hdr);
	json_t *cek = json_object(), *merged = NULL;
	int r = -EINVAL;

	if (!jwe || !cek) {
		r = -ENOMEM;
		goto out;
	}
	if (!jose_jwe_enc_jwk(NULL, jwe, NULL, jwk, cek))
		goto out;
	/* The compact form has only the protected header: key agreement
	   left epk in the unprotected one, so merge before encrypting. */
	merged = jose_jwe_hdr(jwe, jwe);
	if (!merged || json_object_set_new(jwe, "protected", merged) < 0)
		goto out;
	json_object_del(jwe, "header");
	json_object_del(jwe, "unprotected");
	if (jose_jwe_enc_cek(NULL, jwe, cek, pt, len))
		r = jwe_format_compact(jwe, out);
out:
	jwk_free_secret(cek);
	json_decref(jwe);
	return r;
}

/*
 * Where the plaintext goes: a buffer of room bytes, and no further. The
 * frame that declares it holds its one reference, so the stream chain
 * that borrows it never frees it.
 */
struct plaintext_sink {
	jose_io_t io;
	uint8_t *buf;
	size_t room;
	size_t len;
	bool overflow;
};

static bool
sink_feed(jose_io_t *io, const void *in, size_t n)
{
	struct plaintext_sink *s = (struct plaintext_sink *)io;

	if (n > s->room - s->len) {
		s->overflow = true;
		return false;
	}
	memcpy(s->buf + s->len, in, n);
	s->len += n;
	return true;
}

static bool
sink_done(jose_io_t *io)
{
	(void)io;
	return true;
}

static void
sink_free(jose_io_t *io)
{
	(void)io;
}

/*
 * The most the plaintext can be: what the ciphertext decodes to, or, for
 * a compressed one ("zip":"DEF", read from the protected header only, as
 * libjose does), JWE_PLAINTEXT_MAX: 348 KB of deflated zeros inflate to
 * 256 MiB.
 */
static size_t
plaintext_room(const json_t *jwe, size_t ctlen)
{
	json_t *prt = jose_b64_dec_load(json_object_get(jwe, "protected"));
	bool zip = json_is_string(json_object_get(prt, "zip"));

	json_decref(prt);
	return zip ? JWE_PLAINTEXT_MAX : (ctlen * 3 + 3) / 4 + 1;
}

/*
 * jose_jwe_dec_cek() returns NULL for an empty plaintext, which cannot be
 * told apart from a failure, so this follows its steps and judges success
 * by the stream's done(), which checks the tag before anything is kept.
 */
static int
decrypt_with_cek(const json_t *jwe, const json_t *cek, uint8_t **pt,
                 size_t *len)
{
	struct plaintext_sink out = {
		.io = { .refs = 1, .feed = sink_feed, .done = sink_done,
		        .free = sink_free },
	};
	jose_io_auto_t *dec = NULL, *in = NULL;
	const char *ct = NULL;
	size_t ctlen = 0;

	if (json_unpack((json_t *)jwe, "{s:s%}", "ciphertext", &ct, &ctlen) < 0)
		return -EBADMSG;
	out.room = plaintext_room(jwe, ctlen);
	out.buf = malloc(out.room);
	if (!out.buf)
		return -ENOMEM;
	dec = jose_jwe_dec_cek_io(NULL, jwe, cek, &out.io);
	in = dec ? jose_b64_dec_io(dec) : NULL;
	if (!in || !in->feed(in, ct, ctlen) || !in->done(in)) {
		free_secret(out.buf, out.len);
		return out.overflow ? -EFBIG : -EBADMSG;
	}
	*pt = out.buf;
	*len = out.len;
	return 0;
}

int
jwe_decrypt(const json_t *jwe, const json_t *jwk, uint8_t **pt, size_t *len)
{
	json_t *cek = jose_jwe_dec_jwk(NULL, jwe, NULL, jwk);
	int r = cek ? decrypt_with_cek(jwe, cek, pt, len) : -EBADMSG;

	jwk_free_secret(cek);
	return r;
}
