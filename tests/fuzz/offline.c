/* SPDX-License-Identifier: GPL-3.0-or-later */
/* See offline.h. */
#include "offline.h"
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/describe.h"
#include "client/pin.h"
#include "client/request.h"
#include "common/fetch.h"
#include "common/jwk.h"
#include "common/util.h"
#include "server/answer.h"
#include "server/keyset.h"
#include "server/route.h"

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
int __real_read_file_at(int dirfd, const char *name, size_t max, char **buf,
                        size_t *len);
int __wrap_read_file_at(int dirfd, const char *name, size_t max, char **buf,
                        size_t *len);
int __wrap_fetch(const struct url *u, const char *method, const char *suffix,
                 const char *content_type, const void *body, size_t len,
                 const struct fetch_timeouts *t, struct fetch_result *res);

static struct keyset *offline_keys;
static const char *get_body;
static size_t get_len;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int dirfd = open(FUZZ_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	(void)argc;
	(void)argv;
	/* The tpm2 pin's TPM is none: a fuzzer never touches the host's. */
	if (setenv("TPM2TOOLS_TCTI", "device:/nonexistent/tpm", 1) < 0)
		abort();
	if (dirfd < 0 || keyset_load(dirfd, KEYSET_QUIET, &offline_keys) < 0 ||
	    !offline_keys->adv)
		abort();
	close(dirfd);
	return 0;
}

void
offline_serve_get(const char *body, size_t len)
{
	get_body = body;
	get_len = len;
}

const char *
offline_signer_thp(void)
{
	for (size_t i = 0; i < offline_keys->nkeys; i++)
		if (offline_keys->keys[i].signs)
			return offline_keys->keys[i].thp[JWK_THP_S256];
	abort();
}

/* What `luks report` takes from each tang pin. */
static int
tang_pin(const char *url, const json_t *jwks, void *arg)
{
	char thp[JWK_THP_MAX + 1];
	struct url u;
	json_t *k;
	size_t i;

	(void)arg;
	if (url)
		(void)server_url("tang", url, &u);
	json_array_foreach(json_object_get(jwks, "keys"), i, k)
		if (jwk_thumbprint(k, JWK_THP_S256, thp) == 0 &&
		    strlen(thp) > JWK_THP_MAX)
			abort();
	return 0;
}

void
offline_read_binding(const char *jwe)
{
	char *shown = NULL;
	const char *pin = NULL;
	json_t *cfg = NULL;
	uint8_t *pt = NULL;
	size_t len = 0;

	if (describe_binding(jwe, &shown) == 0 && !shown)
		abort();
	if (rebind_config(jwe, &pin, &cfg) == 0 && (!pin || !cfg))
		abort();
	(void)describe_tang_pins(jwe, tang_pin, NULL);
	if (pin_decrypt(jwe, strlen(jwe), &pt, &len) == 0 && !pt)
		abort();
	free_secret(pt, len);
	json_decref(cfg);
	free(shown);
}

/* What fetch returns for a complete response: the body in res->buffer. */
static int
respond(struct fetch_result *res, unsigned status, const char *type,
        const char *body, size_t len)
{
	res->buffer = malloc(len + 1);
	if (!res->buffer)
		return -ENOMEM;
	memcpy(res->buffer, body, len);
	res->buffer[len] = '\0';
	res->response.status = status;
	snprintf(res->response.content_type,
	         sizeof(res->response.content_type), "%s", type ? type : "");
	res->response.body = res->buffer;
	res->response.body_len = len;
	return 0;
}

int
__wrap_fetch(const struct url *u, const char *method, const char *suffix,
             const char *content_type, const void *body, size_t len,
             const struct fetch_timeouts *t, struct fetch_result *res)
{
	char target[URL_PATH_MAX + 128], rec[ECMR_REPLY_MAX];
	struct route_match m;
	struct answer a;

	(void)content_type;
	(void)t;
	memset(res, 0, sizeof(*res));
	snprintf(res->addr, sizeof(res->addr), "offline");
	res->stage = "receive";
	if (url_target(u, suffix, target, sizeof(target)) < 0)
		return -ENAMETOOLONG;
	if (get_body && strcmp(method, "GET") == 0)
		return respond(res, 200, ANSWER_TYPE_ADV, get_body, get_len);
	/* The URL's path prefix is where the server is, not its route. */
	route_match(method, suffix, &m);
	answer_request(offline_keys, &m, body, len, false, rec, &a);
	return respond(res, a.status, a.type, a.body ? a.body : "", a.len);
}

int
__wrap_read_file_at(int dirfd, const char *name, size_t max, char **buf,
                    size_t *len)
{
	if (dirfd != AT_FDCWD)
		return __real_read_file_at(dirfd, name, max, buf, len);
	if (strcmp(name, OFFLINE_ADV_FILE) != 0)
		return -ENOENT;
	if (offline_keys->adv_len > max)
		return -EFBIG;
	*buf = malloc(offline_keys->adv_len + 1);
	if (!*buf)
		return -ENOMEM;
	memcpy(*buf, offline_keys->adv, offline_keys->adv_len);
	(*buf)[offline_keys->adv_len] = '\0';
	*len = offline_keys->adv_len;
	return 0;
}

FILE *
__wrap_fopen(const char *path, const char *mode)
{
	if (strcmp(path, "/dev/tty") == 0) {
		errno = ENXIO;
		return NULL;
	}
	return __real_fopen(path, mode);
}
