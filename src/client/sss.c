/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * clevis's sss pin: the JWE key is a Shamir secret; each share is bound
 * with its own pin (tang, null, or sss again). Recovery asks every share
 * at once and stops as soon as t of them are back: the others' exchanges
 * are cancelled (fetch_cancel_set), and are over before sss_decrypt
 * returns, since no thread may outlive it: a process exiting, or the
 * token plugin unloaded, under a thread still at work crashes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>


#include "client/jwe.h"
#include "client/pin.h"
#include "client/shamir.h"
#include "common/b64.h"
#include "common/fetch.h"
#include "common/jwk.h"
#include "common/log.h"
#include "common/util.h"

static size_t
count_pins(const json_t *pins)
{
	const char *name;
	json_t *v;
	size_t n = 0;

	json_object_foreach((json_t *)pins, name, v)
		n += json_is_array(v) ? json_array_size(v) : 1;
	return n;
}

/* Binds one share with one pin; appends the JWE to jwes. */
static int
bind_share(const struct shamir *s, const char *name, const json_t *cfg,
           bool trust, json_t *jwes)
{
	uint8_t share[2 * SHAMIR_LEN];
	char *jwe = NULL;
	int r;

	r = shamir_share(s, share);
	if (r == 0)
		r = pin_encrypt(name, cfg, trust, share, sizeof(share), &jwe);
	explicit_bzero(share, sizeof(share));
	if (r == 0 && json_array_append_new(jwes, json_string(jwe)) < 0)
		r = -ENOMEM;
	free(jwe);
	return r;
}

static int
bind_shares(const struct shamir *s, const json_t *pins, bool trust,
            json_t *jwes)
{
	const char *name;
	json_t *v, *cfg;
	size_t i;
	int r = 0;

	json_object_foreach((json_t *)pins, name, v) {
		if (!json_is_array(v)) {
			r = bind_share(s, name, v, trust, jwes);
		} else {
			json_array_foreach(v, i, cfg)
				if ((r = bind_share(s, name, cfg, trust, jwes)) < 0)
					break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int
sss_encrypt(const json_t *cfg, bool trust, const uint8_t *pt, size_t len,
            char **jwe)
{
	const json_t *pins = json_object_get(cfg, "pins");
	json_t *t_json = json_object_get(cfg, "t"), *jwes = NULL, *hdr = NULL;
	json_t *cek = NULL;
	uint8_t prime[SHAMIR_LEN], secret[SHAMIR_LEN];
	struct shamir *s = NULL;
	json_int_t t = t_json ? json_integer_value(t_json) : 1;
	size_t n = count_pins(pins);
	int r;

	if (!json_is_object(pins) || (t_json && !json_is_integer(t_json))) {
		log_err("sss: the configuration needs 'pins' (an object) and an "
		        "integer 't'");
		return -EINVAL;
	}
	if (t < 1 || (size_t)t > n || n > SHAMIR_MAX_SHARES) {
		log_err("sss: invalid threshold: need 1 <= t (%lld) <= pins (%zu) "
		        "<= %d", (long long)t, n, SHAMIR_MAX_SHARES);
		return -EINVAL;
	}
	s = shamir_new((size_t)t);
	jwes = json_array();
	r = s && jwes ? 0 : -ENOMEM;
	if (r == 0)
		r = shamir_prime(s, prime);
	if (r == 0)
		r = shamir_secret(s, secret);
	if (r == 0)
		r = bind_shares(s, pins, trust, jwes);
	if (r < 0)
		goto out;
	cek = json_pack("{s:s,s:o,s:s}", "kty", "oct", "k",
	                b64_encode_json(secret, SHAMIR_LEN), "alg", "A256GCM");
	hdr = json_pack("{s:s,s:s,s:{s:s,s:{s:I,s:o,s:O}}}", "alg", "dir",
	                "enc", "A256GCM", "clevis", "pin", "sss", "sss",
	                "t", t, "p", b64_encode_json(prime, SHAMIR_LEN), "jwe", jwes);
	r = cek && hdr ? jwe_encrypt(hdr, cek, pt, len, jwe) : -ENOMEM;
out:
	explicit_bzero(secret, sizeof(secret));
	jwk_free_secret(cek);
	json_decref(hdr);
	json_decref(jwes);
	shamir_free(s);
	return r;
}

/*
 * Shared by the decrypting threads and the caller; the last one to let go
 * frees it.
 */
struct recovery {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned refs;
	size_t needed, pending, len;
	size_t count;			/* shares recovered */
	uint8_t *shares[SHAMIR_MAX_SHARES];
	char *jwes[SHAMIR_MAX_SHARES];
	/* What the share threads' fetches watch: the caller's cancel fds
	   (an enclosing sss's) and, last, this recovery's own eventfd. */
	int cancel[FETCH_CANCEL_MAX];
	size_t ncancel;
};

struct share_job {
	struct recovery *rec;
	size_t index;
};

static void
recovery_unref(struct recovery *rec)
{
	bool last;

	pthread_mutex_lock(&rec->lock);
	last = --rec->refs == 0;
	pthread_mutex_unlock(&rec->lock);
	if (!last)
		return;
	for (size_t i = 0; i < SHAMIR_MAX_SHARES; i++) {
		free_secret(rec->shares[i], 2 * rec->len);
		free(rec->jwes[i]);
	}
	close(rec->cancel[rec->ncancel - 1]);
	pthread_mutex_destroy(&rec->lock);
	pthread_cond_destroy(&rec->changed);
	free(rec);
}

static void *
recover_share(void *arg)
{
	struct share_job *job = arg;
	struct recovery *rec = job->rec;
	const char *jwe = rec->jwes[job->index];
	uint8_t *pt = NULL;
	size_t len = 0;
	int r;

	r = fetch_cancel_set(rec->cancel, rec->ncancel);
	if (r == 0)
		r = pin_decrypt(jwe, strlen(jwe), &pt, &len);
	if (r == 0 && len != 2 * rec->len) {
		log_err("sss: a share has %zu bytes, not %zu", len, 2 * rec->len);
		r = -EBADMSG;
	}
	pthread_mutex_lock(&rec->lock);
	if (r == 0 && rec->count < SHAMIR_MAX_SHARES) {
		rec->shares[rec->count++] = pt;
		pt = NULL;
	}
	rec->pending--;
	pthread_cond_broadcast(&rec->changed);
	pthread_mutex_unlock(&rec->lock);
	free_secret(pt, len);
	free(job);
	recovery_unref(rec);
	return NULL;
}

/* Starts a joinable thread for share index; 0 or -errno. */
static int
start_share(struct recovery *rec, size_t index, pthread_t *thread)
{
	struct share_job *job = malloc(sizeof(*job));
	int r;

	if (!job)
		return -ENOMEM;
	job->rec = rec;
	job->index = index;
	pthread_mutex_lock(&rec->lock);
	rec->refs++;
	rec->pending++;
	pthread_mutex_unlock(&rec->lock);
	r = -pthread_create(thread, NULL, recover_share, job);
	if (r < 0) {
		pthread_mutex_lock(&rec->lock);
		rec->refs--;
		rec->pending--;
		pthread_mutex_unlock(&rec->lock);
		free(job);
	}
	return r;
}

/* NULL when out of memory or fds; the caller checked the nesting. */
static struct recovery *
recovery_new(const json_t *list, size_t needed, size_t len)
{
	struct recovery *rec = calloc(1, sizeof(*rec));
	json_t *v;
	size_t i;
	int fd;

	if (!rec)
		return NULL;
	rec->ncancel = fetch_cancel_get(rec->cancel);
	fd = rec->ncancel < FETCH_CANCEL_MAX ?
	     eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	if (fd < 0) {
		free(rec);
		return NULL;
	}
	rec->cancel[rec->ncancel++] = fd;
	pthread_mutex_init(&rec->lock, NULL);
	pthread_cond_init(&rec->changed, NULL);
	rec->refs = 1;
	rec->needed = needed;
	rec->len = len;
	json_array_foreach(list, i, v) {
		rec->jwes[i] = strdup(json_string_value(v));
		if (!rec->jwes[i]) {
			recovery_unref(rec);
			return NULL;
		}
	}
	return rec;
}

/*
 * Waits until t shares are back or every share has answered, then
 * cancels the shares still out (the caller joins their threads).
 */
static size_t
collect(struct recovery *rec)
{
	size_t got;

	pthread_mutex_lock(&rec->lock);
	while (rec->count < rec->needed && rec->pending > 0)
		pthread_cond_wait(&rec->changed, &rec->lock);
	got = rec->count;
	/* Only an overflow fails, and one write cannot. */
	if (rec->pending > 0)
		(void)eventfd_write(rec->cancel[rec->ncancel - 1], 1);
	pthread_mutex_unlock(&rec->lock);
	return got;
}

static int
check_sss_header(const json_t *sss, json_int_t *t, uint8_t *prime,
                 size_t *plen)
{
	const json_t *list = json_object_get(sss, "jwe");
	const json_t *p = json_object_get(sss, "p");
	json_t *v;
	size_t i;

	*t = json_integer_value(json_object_get(sss, "t"));
	if (!json_is_array(list) || json_array_size(list) > SHAMIR_MAX_SHARES ||
	    *t < 1 || (size_t)*t > json_array_size(list) || !json_is_string(p) ||
	    b64_decode(json_string_value(p), json_string_length(p), prime, 512,
	               plen) < 0 || *plen == 0)
		return -EBADMSG;
	json_array_foreach(list, i, v)
		if (!json_is_string(v))
			return -EBADMSG;
	return 0;
}

static int
sss_decrypt(const json_t *jwe, const json_t *hdr, uint8_t **pt, size_t *len)
{
	const json_t *sss = json_object_get(json_object_get(hdr, "clevis"),
	                                    "sss");
	uint8_t prime[512], secret[512];
	pthread_t threads[SHAMIR_MAX_SHARES];
	bool started[SHAMIR_MAX_SHARES];
	int fds[FETCH_CANCEL_MAX];
	struct recovery *rec;
	json_int_t t;
	size_t plen, got, total;
	json_t *cek;
	int r;

	if (check_sss_header(sss, &t, prime, &plen) < 0) {
		log_err("sss: malformed clevis.sss header (t, p, jwe)");
		return -EBADMSG;
	}
	if (fetch_cancel_get(fds) >= FETCH_CANCEL_MAX) {
		log_err("sss: nested more than %d deep", FETCH_CANCEL_MAX);
		return -EBADMSG;
	}
	total = json_array_size(json_object_get(sss, "jwe"));
	rec = recovery_new(json_object_get(sss, "jwe"), (size_t)t, plen);
	if (!rec)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++) {
		started[i] = start_share(rec, i, &threads[i]) == 0;
		if (!started[i])
			log_warn("sss: cannot start recovering share %zu", i + 1);
	}
	got = collect(rec);
	for (size_t i = 0; i < total; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
	if (got < (size_t)t) {
		recovery_unref(rec);
		/* An enclosing sss that has enough does not need to hear. */
		if (fetch_cancelled())
			return -ECANCELED;
		log_err("sss: %zu of %zu shares recovered, %lld needed",
		        got, total, (long long)t);
		return -ENOKEY;
	}
	/* Only the first t: later arrivals are not read while they land. */
	pthread_mutex_lock(&rec->lock);
	r = shamir_combine(prime, plen, (const uint8_t *const *)rec->shares,
	                   (size_t)t, secret);
	pthread_mutex_unlock(&rec->lock);
	recovery_unref(rec);
	if (r < 0) {
		log_err("sss: the shares do not combine (damaged JWE)");
		return r;
	}
	cek = json_pack("{s:s,s:o}", "kty", "oct", "k", b64_encode_json(secret, plen));
	explicit_bzero(secret, sizeof(secret));
	r = cek ? jwe_decrypt(jwe, cek, pt, len) : -ENOMEM;
	if (r < 0 && r != -ENOPKG)
		log_err("sss: the JWE does not decrypt with the recovered key "
		        "(damaged or tampered)");
	jwk_free_secret(cek);
	return r;
}

const struct pin pin_sss = {
	.name = "sss",
	.summary = "a threshold of other pins",
	.config_help =
	"  t       how many of the pins must answer to decrypt (default 1)\n"
	"  pins    an object: each pin's name, with its CONFIG or an array of\n"
	"          CONFIGs, e.g. {\"tang\": [{\"url\": ...}, {\"url\": ...}]};\n"
	"          sss nests\n"
	"-y applies to every tang pin inside.\n",
	.encrypt = sss_encrypt,
	.decrypt = sss_decrypt,
};
