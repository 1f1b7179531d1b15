/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/b64.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
b64_decoded_len(size_t n)
{
	if (n % 4 == 1)
		return SIZE_MAX;
	return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

int
b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t need = b64_encoded_len(n), o = 0;

	if (n > INT_MAX / 2 || cap <= need)
		return -ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		if (left > 1)
			out[o++] = b64_alphabet[(v >> 6) & 63];
		if (left > 2)
			out[o++] = b64_alphabet[v & 63];
	}
	out[o] = '\0';
	return (int)o;
}

/* The value of one character, or -1; branch-free, as keys pass here. */
static int
b64_value(unsigned char c)
{
	int v = -1;

	v += ((('A' - 1 - (int)c) & ((int)c - ('Z' + 1))) >> 8) & (c - 'A' + 1);
	v += ((('a' - 1 - (int)c) & ((int)c - ('z' + 1))) >> 8) & (c - 'a' + 27);
	v += ((('0' - 1 - (int)c) & ((int)c - ('9' + 1))) >> 8) & (c - '0' + 53);
	v += ((('-' - 1 - (int)c) & ((int)c - ('-' + 1))) >> 8) & 63;
	v += ((('_' - 1 - (int)c) & ((int)c - ('_' + 1))) >> 8) & 64;
	return v;
}

int
b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	size_t need = b64_decoded_len(n), o = 0;
	uint32_t acc = 0;
	int bad = 0;

	if (need == SIZE_MAX)
		return -EBADMSG;
	if (need > cap)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i]);

		bad |= v;
		acc = acc << 6 | ((unsigned)v & 63);
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	/* Bits past the last whole byte must be zero (RFC 4648 3.5), as
	   libjose 11 requires: one encoding per value. */
	if (n % 4 == 2) {
		out[o++] = (uint8_t)(acc >> 4);
		bad |= -(int)(acc & 0xf);
	} else if (n % 4 == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
		bad |= -(int)(acc & 0x3);
	}
	acc = 0;
	if (bad < 0) {
		explicit_bzero(out, o);
		return -EBADMSG;
	}
	*len = o;
	return 0;
}

int
b64_decode_json(const json_t *s, size_t max, uint8_t **out, size_t *len)
{
	const char *text = json_string_value(s);
	size_t n = json_string_length(s), need;
	uint8_t *buf;
	int r;

	if (!text)
		return -EBADMSG;
	need = b64_decoded_len(n);
	if (need == SIZE_MAX)
		return -EBADMSG;
	if (need > max)
		return -EFBIG;
	buf = malloc(need ? need : 1);
	if (!buf)
		return -ENOMEM;
	r = b64_decode(text, n, buf, need, len);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}

json_t *
b64_encode_json(const uint8_t *in, size_t n)
{
	size_t cap = b64_encoded_len(n) + 1;
	char *text = malloc(cap);
	json_t *s = NULL;

	if (text && b64_encode(in, n, text, cap) >= 0)
		s = json_string(text);
	free_secret(text, text ? cap : 0);
	return s;
}

json_t *
b64_decode_objectn(const char *s, size_t n, size_t max)
{
	size_t need = b64_decoded_len(n), len = 0;
	json_t *obj = NULL;
	uint8_t *buf;

	if (!s || need == SIZE_MAX || need > max)
		return NULL;
	buf = malloc(need ? need : 1);
	if (!buf)
		return NULL;
	if (b64_decode(s, n, buf, need, &len) == 0)
		obj = json_loadb((const char *)buf, len, 0, NULL);
	free(buf);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *
b64_decode_object(const json_t *s, size_t max)
{
	return b64_decode_objectn(json_string_value(s), json_string_length(s),
	                          max);
}
