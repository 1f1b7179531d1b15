/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * clevis's tpm2 pin. Binding: a fresh A256GCM key is sealed by the TPM
 * in a keyedhash object under a primary key of the owner hierarchy; the
 * object's public and private parts ride in the header, so this TPM, and
 * only it, unseals the key again. The primary is never stored: it is
 * made again each time from the same template, which gives the same key,
 * so the template must be exactly the one clevis's
 * `tpm2_createprimary -C o -g HASH -G KEY` builds (tpm2-tools 5), or the
 * object will not load. With pcr_ids the object's policy is PolicyPCR
 * over those PCRs as they were at binding, as `tpm2_createpolicy
 * --policy-pcr` computes it.
 *
 * The TPM is reached through tpm2-tss (loaded by tss.c when the pin
 * first runs), in process, at the TCTI named by TPM2TOOLS_TCTI (what
 * clevis's tpm2-tools read), by default the kernel's resource manager.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client/jwe.h"
#include "client/pin.h"
#include "client/tss.h"
#include "common/b64.h"
#include "common/jwk.h"
#include "common/log.h"
#include "common/util.h"

#define TCTI_ENV "TPM2TOOLS_TCTI"
#define TCTI_DEFAULT "device:/dev/tpmrm0"
/* tpm2-tools selects PCRs 0-23 with three bytes, and the selection's
   bytes are part of the policy digest. */
#define PCR_SELECT_BYTES 3
#define PCR_COUNT (PCR_SELECT_BYTES * 8)
#define PCR_IDS_MAX (PCR_COUNT * 3)
#define PCR_POLICY_MAX 8
/* A marshalled TPM2B_PUBLIC or TPM2B_PRIVATE is never larger. */
#define TPM2B_PART_MAX (sizeof(TPM2B_PUBLIC) > sizeof(TPM2B_PRIVATE) ? \
                        sizeof(TPM2B_PUBLIC) : sizeof(TPM2B_PRIVATE))
#define PCR_VALUES_MAX (PCR_POLICY_MAX * TPM2_SHA512_DIGEST_SIZE)

struct hash_alg {
	const char *name;	/* clevis's and tpm2-tools' */
	const char *ossl;	/* OpenSSL's */
	TPMI_ALG_HASH id;
	uint16_t size;
};

static const struct hash_alg hashes[] = {
	{ "sha1", "SHA1", TPM2_ALG_SHA1, TPM2_SHA1_DIGEST_SIZE },
	{ "sha256", "SHA256", TPM2_ALG_SHA256, TPM2_SHA256_DIGEST_SIZE },
	{ "sha384", "SHA384", TPM2_ALG_SHA384, TPM2_SHA384_DIGEST_SIZE },
	{ "sha512", "SHA512", TPM2_ALG_SHA512, TPM2_SHA512_DIGEST_SIZE },
	{ "sm3_256", "SM3", TPM2_ALG_SM3_256, TPM2_SM3_256_DIGEST_SIZE },
};

/* The primary keys tpm2-tools' -G makes that can hold a sealed object. */
struct key_alg {
	const char *name;
	TPMI_ALG_PUBLIC type;
	uint16_t rsa_bits;
	TPMI_ECC_CURVE curve;
};

static const struct key_alg keys[] = {
	{ "ecc", TPM2_ALG_ECC, 0, TPM2_ECC_NIST_P256 },
	{ "ecc256", TPM2_ALG_ECC, 0, TPM2_ECC_NIST_P256 },
	{ "ecc384", TPM2_ALG_ECC, 0, TPM2_ECC_NIST_P384 },
	{ "ecc521", TPM2_ALG_ECC, 0, TPM2_ECC_NIST_P521 },
	{ "rsa", TPM2_ALG_RSA, 2048, 0 },
	{ "rsa1024", TPM2_ALG_RSA, 1024, 0 },
	{ "rsa2048", TPM2_ALG_RSA, 2048, 0 },
	{ "rsa3072", TPM2_ALG_RSA, 3072, 0 },
	{ "rsa4096", TPM2_ALG_RSA, 4096, 0 },
};

/* A binding's parameters, from a CONFIG or a JWE header. */
struct tpm2_params {
	const struct hash_alg *hash;
	const struct key_alg *key;
	const struct hash_alg *bank;	/* NULL: no PCR policy */
	uint8_t pcrs[PCR_SELECT_BYTES];
	char pcr_ids[PCR_IDS_MAX];	/* "0,7": as the header spells them */
	/* pcr_digest: the PCR values the policy expects; else read. */
	uint8_t values[PCR_VALUES_MAX];
	size_t nvalues;
};

/* One conversation with the TPM; every handle is flushed at the end. */
struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;
	ESYS_TR object;
	ESYS_TR session;
	char where[96];		/* the TCTI, escaped, for messages */
	bool locked;		/* holds tpm_lock */
};

static const struct hash_alg *
hash_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(hashes); i++)
		if (strcmp(hashes[i].name, name) == 0)
			return &hashes[i];
	return NULL;
}

static const struct hash_alg *
hash_by_id(TPMI_ALG_HASH id)
{
	for (size_t i = 0; i < ARRAY_SIZE(hashes); i++)
		if (hashes[i].id == id)
			return &hashes[i];
	return NULL;
}

static const struct key_alg *
key_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* A member that must be a string if present; *out NULL when absent. */
static int
string_member(const json_t *obj, const char *name, const char **out)
{
	const json_t *v = json_object_get(obj, name);

	*out = json_string_value(v);
	if (v && !*out) {
		log_err("tpm2: '%s' must be a string", name);
		return -EINVAL;
	}
	return 0;
}

static int
algorithms(struct tpm2_params *p, const char *hash, const char *key,
           const char *bank)
{
	char shown[32];

	p->hash = hash_find(hash);
	p->key = key_find(key);
	p->bank = bank ? hash_find(bank) : NULL;
	if (!p->hash || (bank && !p->bank) || !p->key) {
		const char *bad = !p->hash ? hash : !p->key ? key : bank;

		log_escape(shown, sizeof(shown), bad, strlen(bad));
		log_err("tpm2: unsupported algorithm '%s': %s", shown, !p->key &&
		        p->hash && (!bank || p->bank) ?
		        "key is ecc, ecc256, ecc384, ecc521, rsa, rsa1024, "
		        "rsa2048, rsa3072 or rsa4096" :
		        "hash and pcr_bank are sha1, sha256, sha384, sha512 "
		        "or sm3_256");
		return -ENOTSUP;
	}
	return 0;
}

/* One PCR index of a list: decimal, 0 to 23, spaces around allowed; no
   leading zero, which tpm2-tools would read as octal. */
static int
add_pcr(struct tpm2_params *p, const char *s, size_t n)
{
	char buf[8];
	unsigned long id;

	while (n > 0 && s[0] == ' ') {
		s++;
		n--;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] < '0' || buf[0] > '9' || (buf[0] == '0' && n > 1) ||
	    parse_ulong(buf, 0, PCR_COUNT - 1, &id) < 0)
		return -EINVAL;
	p->pcrs[id / 8] |= (uint8_t)(1u << (id % 8));
	return 0;
}

static unsigned
pcr_count(const struct tpm2_params *p)
{
	unsigned n = 0;

	for (unsigned id = 0; id < PCR_COUNT; id++)
		n += (p->pcrs[id / 8] >> (id % 8)) & 1u;
	return n;
}

/* "1,3" or, in a CONFIG, ["1","3"] or [1,3], as clevis takes them. */
static int
pcr_list(struct tpm2_params *p, const json_t *ids, bool array_ok)
{
	const char *s = json_string_value(ids);
	size_t i, len = 0;
	json_t *v;
	int r = 0;

	if (s) {
		const char *end = s + strlen(s), *comma;

		for (; r == 0; s = comma + 1) {
			comma = memchr(s, ',', (size_t)(end - s));
			r = add_pcr(p, s, (size_t)((comma ? comma : end) - s));
			if (!comma)
				break;
		}
	} else if (array_ok && json_array_size(ids) > 0) {
		json_array_foreach(ids, i, v) {
			char num[24];
			const char *e = json_string_value(v);

			if (json_is_integer(v)) {
				snprintf(num, sizeof(num), "%lld",
				         (long long)json_integer_value(v));
				e = num;
			}
			if (r == 0)
				r = e ? add_pcr(p, e, strlen(e)) : -EINVAL;
		}
	} else {
		r = -EINVAL;
	}
	/* tpm2-tools reads no more, so clevis could not unseal more. */
	if (r == 0 && pcr_count(p) > PCR_POLICY_MAX) {
		log_err("tpm2: at most %d PCRs, as clevis's tpm2-tools take",
		        PCR_POLICY_MAX);
		return -EINVAL;
	}
	for (unsigned id = 0; r == 0 && id < PCR_COUNT; id++)
		if (p->pcrs[id / 8] & (1u << (id % 8)))
			len += (size_t)snprintf(p->pcr_ids + len,
			                        sizeof(p->pcr_ids) - len, "%s%u",
			                        len ? "," : "", id);
	if (r < 0)
		log_err("tpm2: 'pcr_ids' must list PCR indices from 0 to %d, as "
		        "\"0,7\"%s", PCR_COUNT - 1, array_ok ? " or [0,7]" : "");
	return r;
}

/* pcr_digest: the selected PCRs' values, concatenated in index order
   (what `tpm2_pcrread -o` writes), base64url. */
static int
pcr_digest(struct tpm2_params *p, const json_t *b64)
{
	size_t want = (size_t)pcr_count(p) * p->bank->size, n = 0;

	if (!json_is_string(b64) ||
	    b64_decode(json_string_value(b64), json_string_length(b64),
	               p->values, sizeof(p->values), &n) < 0 || n != want) {
		log_err("tpm2: 'pcr_digest' must be the %u selected %s PCR "
		        "values, %zu bytes in base64url", pcr_count(p),
		        p->bank->name, want);
		return -EINVAL;
	}
	p->nvalues = want;
	return 0;
}

static int
parse_config(const json_t *cfg, struct tpm2_params *p)
{
	static const char *const members[] = {
		"hash", "key", "pcr_bank", "pcr_ids", "pcr_digest",
	};
	const char *name, *hash, *key, *bank;
	const json_t *ids = json_object_get(cfg, "pcr_ids"), *v;
	int r;

	memset(p, 0, sizeof(*p));
	json_object_foreach((json_t *)cfg, name, v) {
		size_t i = 0;
		char shown[32];

		while (i < ARRAY_SIZE(members) && strcmp(name, members[i]) != 0)
			i++;
		if (i == ARRAY_SIZE(members)) {
			log_escape(shown, sizeof(shown), name, strlen(name));
			log_err("tpm2: unknown configuration member '%s' (known: "
			        "hash, key, pcr_bank, pcr_ids, pcr_digest)", shown);
			return -EINVAL;
		}
	}
	if ((r = string_member(cfg, "hash", &hash)) < 0 ||
	    (r = string_member(cfg, "key", &key)) < 0 ||
	    (r = string_member(cfg, "pcr_bank", &bank)) < 0)
		return r;
	/* clevis's defaults. */
	r = algorithms(p, hash ? hash : "sha256", key ? key : "ecc",
	               ids ? (bank ? bank : "sha1") : NULL);
	if (r == 0 && ids)
		r = pcr_list(p, ids, true);
	if (r == 0 && json_object_get(cfg, "pcr_digest")) {
		if (!ids) {
			log_err("tpm2: 'pcr_digest' needs 'pcr_ids'");
			return -EINVAL;
		}
		r = pcr_digest(p, json_object_get(cfg, "pcr_digest"));
	}
	return r;
}

/* The bank and indices of a policy, for messages: "sha256:0,7". */
static const char *
pcr_spec(const struct tpm2_params *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s", p->bank->name, p->pcr_ids);
	return buf;
}

static void
pcr_selection(const struct tpm2_params *p, TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = p->bank->id;
	sel->pcrSelections[0].sizeofSelect = PCR_SELECT_BYTES;
	memcpy(sel->pcrSelections[0].pcrSelect, p->pcrs, PCR_SELECT_BYTES);
}

/* tpm2-tss logs its failures on stderr; tether says what failed itself.
   TSS2_LOG, when the user sets it, still wins. */
static void
quiet_tss(void)
{
	setenv("TSS2_LOG", "all+none", 0);
}

/* What failed, in the TPM's words, as an -errno for the caller. */
static int
tpm_fail(const struct tpm *t, const char *what, TSS2_RC rc)
{
	TSS2_RC code = rc & 0xffff;

	if (code & TPM2_RC_FMT1)
		code &= TPM2_RC_FMT1 | 0x3f;
	if (code == TPM2_RC_HASH || code == TPM2_RC_CURVE ||
	    code == TPM2_RC_KEY_SIZE || code == TPM2_RC_SCHEME ||
	    code == TPM2_RC_SYMMETRIC) {
		log_err("tpm2: %s: the TPM at %s does not support the "
		        "algorithm (%s)", what, t->where,
		        tss.Tss2_RC_Decode(rc));
		return -ENOTSUP;
	}
	if (code == TPM2_RC_OBJECT_MEMORY || code == TPM2_RC_SESSION_MEMORY) {
		log_err("tpm2: %s: the TPM at %s is out of room for objects or "
		        "sessions; without a resource manager, something left "
		        "its handles loaded", what, t->where);
		return -EBUSY;
	}
	log_err("tpm2: %s: %s (TPM at %s)", what, tss.Tss2_RC_Decode(rc),
	        t->where);
	return (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER ? -ENODEV : -EIO;
}

/*
 * One conversation at a time in this process: sss asks its shares from
 * threads, and a TPM reached without a resource manager (swtpm,
 * /dev/tpm0) holds three objects, fewer than two conversations load.
 */
static pthread_mutex_t tpm_lock = PTHREAD_MUTEX_INITIALIZER;

/* Opens a conversation; tpm_close ends it, whatever this returned. */
static int
tpm_open(struct tpm *t)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *conf = getenv(TCTI_ENV);
	TSS2_RC rc;

	t->primary = t->object = t->session = ESYS_TR_NONE;
	if (!conf || !*conf)
		conf = TCTI_DEFAULT;
	log_escape(t->where, sizeof(t->where), conf, strlen(conf));
	pthread_once(&once, quiet_tss);
	pthread_mutex_lock(&tpm_lock);
	t->locked = true;
	rc = tss.Tss2_TctiLdr_Initialize(conf, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		t->tcti = NULL;
		log_err("tpm2: no TPM at %s (%s); %s selects another TCTI, as "
		        "for tpm2-tools", t->where, tss.Tss2_RC_Decode(rc),
		        TCTI_ENV);
		return -ENODEV;
	}
	rc = tss.Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		t->esys = NULL;
		return tpm_fail(t, "cannot talk to the TPM", rc);
	}
	return 0;
}

static void
tpm_close(struct tpm *t)
{
	ESYS_TR *handles[] = { &t->session, &t->object, &t->primary };

	for (size_t i = 0; t->esys && i < ARRAY_SIZE(handles); i++)
		if (*handles[i] != ESYS_TR_NONE)
			(void)tss.Esys_FlushContext(t->esys, *handles[i]);
	tss.Esys_Finalize(&t->esys);
	tss.Tss2_TctiLdr_Finalize(&t->tcti);
	if (t->locked)
		pthread_mutex_unlock(&tpm_lock);
	t->locked = false;
}

/* tpm2_createprimary's template: restricted decryption, AES-128-CFB for
   its children, no scheme, the empty unique. */
static void
primary_template(const struct tpm2_params *p, TPM2B_PUBLIC *pub)
{
	TPMT_PUBLIC *a = &pub->publicArea;
	const TPMT_SYM_DEF_OBJECT sym = {
		.algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB,
	};

	memset(pub, 0, sizeof(*pub));
	a->type = p->key->type;
	a->nameAlg = p->hash->id;
	a->objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
	                      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                      TPMA_OBJECT_SENSITIVEDATAORIGIN |
	                      TPMA_OBJECT_USERWITHAUTH;
	if (a->type == TPM2_ALG_ECC) {
		a->parameters.eccDetail.symmetric = sym;
		a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		a->parameters.eccDetail.curveID = p->key->curve;
		a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	} else {
		a->parameters.rsaDetail.symmetric = sym;
		a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		a->parameters.rsaDetail.keyBits = p->key->rsa_bits;
	}
}

static int
create_primary(struct tpm *t, const struct tpm2_params *p)
{
	const TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION creation = { 0 };
	TPM2B_PUBLIC tmpl;
	TSS2_RC rc;

	primary_template(p, &tmpl);
	rc = tss.Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
	                            ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
	                            &tmpl, &outside, &creation, &t->primary,
	                            NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		t->primary = ESYS_TR_NONE;
		return tpm_fail(t, "cannot create the primary key", rc);
	}
	return 0;
}

/* The selected PCRs' values in index order, from one PCR_Read (eight at
   most, which pcr_list checks); a PCR it does not return is not in the
   bank. */
static int
pcr_read(struct tpm *t, struct tpm2_params *p)
{
	TPML_PCR_SELECTION want, *got = NULL;
	TPML_DIGEST *values = NULL;
	char spec[PCR_IDS_MAX + 16];
	UINT32 counter;
	TSS2_RC rc;
	bool ok;

	pcr_selection(p, &want);
	rc = tss.Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	                       ESYS_TR_NONE, &want, &counter, &got, &values);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, "cannot read the PCRs", rc);
	ok = got->count == 1 && got->pcrSelections[0].hash == p->bank->id &&
	     got->pcrSelections[0].sizeofSelect >= PCR_SELECT_BYTES &&
	     memcmp(got->pcrSelections[0].pcrSelect, p->pcrs,
	            PCR_SELECT_BYTES) == 0 &&
	     values->count == pcr_count(p);
	p->nvalues = 0;
	for (uint32_t i = 0; ok && i < values->count; i++) {
		ok = values->digests[i].size == p->bank->size;
		if (ok) {
			memcpy(p->values + p->nvalues, values->digests[i].buffer,
			       p->bank->size);
			p->nvalues += p->bank->size;
		}
	}
	tss.Esys_Free(got);
	tss.Esys_Free(values);
	if (!ok) {
		log_err("tpm2: the TPM at %s has no PCRs %s (is the %s bank "
		        "active?)", t->where, pcr_spec(p, spec, sizeof(spec)),
		        p->bank->name);
		return -ENOENT;
	}
	return 0;
}

/* PolicyPCR's pcrDigest: the policy's hash of the PCR values. */
static int
hash_values(const struct tpm2_params *p, TPM2B_DIGEST *out)
{
	EVP_MD *md = EVP_MD_fetch(NULL, p->hash->ossl, NULL);
	unsigned int n = 0;
	int ok;

	ok = md && EVP_MD_get_size(md) == p->hash->size &&
	     EVP_Digest(p->values, p->nvalues, out->buffer, &n, md, NULL) &&
	     n == p->hash->size;
	EVP_MD_free(md);
	if (!ok) {
		log_err("tpm2: OpenSSL cannot compute %s", p->hash->name);
		return -ENOTSUP;
	}
	out->size = (UINT16)n;
	return 0;
}

/*
 * A session; but for a trial one, salted with the primary key, so that
 * the key crosses the bus to the TPM (crypt: TPMA_SESSION_DECRYPT, for
 * Create) or back (TPMA_SESSION_ENCRYPT, for Unseal) under AES-128-CFB
 * with a key only the TPM and tether know, not in clear as clevis's
 * tpm2-tools send it.
 */
static int
start_session(struct tpm *t, TPM2_SE type, TPMI_ALG_HASH hash,
              TPMA_SESSION crypt)
{
	const TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
	const TPMT_SYM_DEF aes = {
		.algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB,
	};
	bool trial = type == TPM2_SE_TRIAL;
	TSS2_RC rc;

	rc = tss.Esys_StartAuthSession(t->esys,
	                               trial ? ESYS_TR_NONE : t->primary,
	                               ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                               ESYS_TR_NONE, NULL, type,
	                               trial ? &none : &aes, hash, &t->session);
	if (rc != TSS2_RC_SUCCESS) {
		t->session = ESYS_TR_NONE;
		return tpm_fail(t, "cannot start a session", rc);
	}
	rc = trial ? TSS2_RC_SUCCESS :
	     tss.Esys_TRSess_SetAttributes(t->esys, t->session,
	                                   TPMA_SESSION_CONTINUESESSION | crypt,
	                                   0xff);
	return rc == TSS2_RC_SUCCESS ? 0 :
	       tpm_fail(t, "cannot set the session's encryption", rc);
}

/* The policy digest tpm2_createpolicy --policy-pcr writes, from a trial
   session of the TPM itself. */
static int
pcr_policy(struct tpm *t, struct tpm2_params *p, TPM2B_DIGEST *policy)
{
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST pcr_hash, *digest = NULL;
	TSS2_RC rc;
	int r;

	if (p->nvalues == 0 && (r = pcr_read(t, p)) < 0)
		return r;
	if ((r = hash_values(p, &pcr_hash)) < 0 ||
	    (r = start_session(t, TPM2_SE_TRIAL, p->hash->id, 0)) < 0)
		return r;
	pcr_selection(p, &sel);
	rc = tss.Esys_PolicyPCR(t->esys, t->session, ESYS_TR_NONE, ESYS_TR_NONE,
	                        ESYS_TR_NONE, &pcr_hash, &sel);
	if (rc == TSS2_RC_SUCCESS)
		rc = tss.Esys_PolicyGetDigest(t->esys, t->session,
		                              ESYS_TR_NONE, ESYS_TR_NONE,
		                              ESYS_TR_NONE, &digest);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, "cannot compute the PCR policy", rc);
	*policy = *digest;
	tss.Esys_Free(digest);
	(void)tss.Esys_FlushContext(t->esys, t->session);
	t->session = ESYS_TR_NONE;
	return 0;
}

/* tpm2_create's sealed object, as clevis asks for it. */
static int
seal(struct tpm *t, struct tpm2_params *p, const char *secret,
     TPM2B_PUBLIC **pub, TPM2B_PRIVATE **priv)
{
	TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION creation = { 0 };
	TPM2B_PUBLIC tmpl = { 0 };
	TPMT_PUBLIC *a = &tmpl.publicArea;
	size_t len = strlen(secret);
	TSS2_RC rc;
	int r;

	if (len > sizeof(sensitive.sensitive.data.buffer))
		return -E2BIG;
	a->type = TPM2_ALG_KEYEDHASH;
	a->nameAlg = p->hash->id;
	a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                      TPMA_OBJECT_NODA | TPMA_OBJECT_ADMINWITHPOLICY;
	a->parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	if (p->bank) {
		if ((r = pcr_policy(t, p, &a->authPolicy)) < 0)
			return r;
	} else {
		a->objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
	}
	r = start_session(t, TPM2_SE_HMAC, TPM2_ALG_SHA256,
	                  TPMA_SESSION_DECRYPT);
	if (r < 0)
		return r;
	memcpy(sensitive.sensitive.data.buffer, secret, len);
	sensitive.sensitive.data.size = (UINT16)len;
	rc = tss.Esys_Create(t->esys, t->primary, t->session, ESYS_TR_NONE,
	                     ESYS_TR_NONE, &sensitive, &tmpl, &outside,
	                     &creation, priv, pub, NULL, NULL, NULL);
	explicit_bzero(&sensitive, sizeof(sensitive));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, "cannot seal the key", rc);
	return 0;
}

/* The object's public or private part, marshalled as tpm2-tools saves
   it, in the base64url the header holds. */
static json_t *
b64_part(const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
	uint8_t buf[TPM2B_PART_MAX];
	size_t n = 0;
	TSS2_RC rc;

	rc = pub ? tss.Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &n) :
	     tss.Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &n);
	return rc == TSS2_RC_SUCCESS ? b64_encode_json(buf, n) : NULL;
}

static json_t *
binding_header(const struct tpm2_params *p, const TPM2B_PUBLIC *pub,
               const TPM2B_PRIVATE *priv)
{
	json_t *tpm2 = json_pack("{s:s,s:s,s:o*,s:o*}", "hash", p->hash->name,
	                         "key", p->key->name, "jwk_pub", b64_part(pub, NULL),
	                         "jwk_priv", b64_part(NULL, priv));

	if (!tpm2 || !json_object_get(tpm2, "jwk_pub") ||
	    !json_object_get(tpm2, "jwk_priv") ||
	    (p->bank && (json_object_set_new(tpm2, "pcr_bank",
	                                     json_string(p->bank->name)) < 0 ||
	                 json_object_set_new(tpm2, "pcr_ids",
	                                     json_string(p->pcr_ids)) < 0))) {
		json_decref(tpm2);
		return NULL;
	}
	return json_pack("{s:{s:s,s:o}}", "clevis", "pin", "tpm2", "tpm2", tpm2);
}

static int
tpm2_encrypt(const json_t *cfg, bool trust, const uint8_t *pt, size_t len,
             char **jwe)
{
	struct tpm t = { 0 };
	struct tpm2_params p;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	json_t *jwk = NULL, *hdr = NULL;
	char *secret = NULL;
	int r;

	(void)trust;
	if ((r = parse_config(cfg, &p)) < 0 || (r = tss_load()) < 0)
		return r;
	jwk = jwk_generate("A256GCM");
	if (!jwk || !(secret = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS))) {
		r = -ENOMEM;
		goto out;
	}
	r = tpm_open(&t);
	if (r == 0)
		r = create_primary(&t, &p);
	if (r == 0)
		r = seal(&t, &p, secret, &pub, &priv);
	tpm_close(&t);
	if (r < 0)
		goto out;
	hdr = binding_header(&p, pub, priv);
	r = hdr ? jwe_encrypt(hdr, jwk, pt, len, jwe) : -ENOMEM;
out:
	explicit_bzero(&p, sizeof(p));
	free_secret_str(secret);
	jwk_free_secret(jwk);
	json_decref(hdr);
	tss.Esys_Free(pub);
	tss.Esys_Free(priv);
	return r;
}

/* A header member holding a marshalled TPM2B; exact length, no more. */
static int
unmarshal_member(const json_t *tpm2, const char *name, TPM2B_PUBLIC *pub,
                 TPM2B_PRIVATE *priv)
{
	const json_t *v = json_object_get(tpm2, name);
	uint8_t buf[TPM2B_PART_MAX];
	size_t n = 0, off = 0;
	TSS2_RC rc;

	if (!json_is_string(v) ||
	    b64_decode(json_string_value(v), json_string_length(v), buf,
	               sizeof(buf), &n) < 0 || n == 0)
		return -EBADMSG;
	rc = pub ? tss.Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, n, &off, pub) :
	     tss.Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, n, &off, priv);
	return rc == TSS2_RC_SUCCESS && off == n ? 0 : -EBADMSG;
}

static int
parse_header(const json_t *tpm2, struct tpm2_params *p, TPM2B_PUBLIC *pub,
             TPM2B_PRIVATE *priv)
{
	const char *hash = json_string_value(json_object_get(tpm2, "hash"));
	const char *key = json_string_value(json_object_get(tpm2, "key"));
	const json_t *ids = json_object_get(tpm2, "pcr_ids");
	const char *bank = json_string_value(json_object_get(tpm2, "pcr_bank"));
	int r;

	memset(p, 0, sizeof(*p));
	if (!hash || !key || (ids && !bank) ||
	    unmarshal_member(tpm2, "jwk_pub", pub, NULL) < 0 ||
	    unmarshal_member(tpm2, "jwk_priv", NULL, priv) < 0) {
		log_err("tpm2: the JWE lacks clevis.tpm2's hash, key, jwk_pub or "
		        "jwk_priv, or pcr_bank beside pcr_ids, or they are "
		        "malformed");
		return -EBADMSG;
	}
	r = algorithms(p, hash, key, ids ? bank : NULL);
	if (r == 0 && ids)
		r = pcr_list(p, ids, false);
	/* The policy session must hash as the object's name does. */
	if (r == 0 && !hash_by_id(pub->publicArea.nameAlg)) {
		log_err("tpm2: the sealed object's name algorithm is not one "
		        "tether knows");
		r = -ENOTSUP;
	}
	return r;
}

static int
load(struct tpm *t, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
	TSS2_RC rc = tss.Esys_Load(t->esys, t->primary, ESYS_TR_PASSWORD,
	                           ESYS_TR_NONE, ESYS_TR_NONE, priv, pub,
	                           &t->object);

	if (rc == TSS2_RC_SUCCESS)
		return 0;
	t->object = ESYS_TR_NONE;
	if ((rc & 0xffff & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_INTEGRITY) {
		log_err("tpm2: the TPM at %s cannot load the sealed key: it was "
		        "sealed by another TPM, or this one's owner seed changed "
		        "(tpm2_clear)", t->where);
		return -ENOKEY;
	}
	return tpm_fail(t, "cannot load the sealed key", rc);
}

static int
unseal(struct tpm *t, const struct tpm2_params *p, const TPM2B_PUBLIC *pub,
       TPM2B_SENSITIVE_DATA **data)
{
	const TPM2B_DIGEST current = { 0 };
	TPML_PCR_SELECTION sel;
	char spec[PCR_IDS_MAX + 16];
	TSS2_RC rc;
	int r;

	/* The policy session hashes as the object's name does. */
	r = start_session(t, p->bank ? TPM2_SE_POLICY : TPM2_SE_HMAC,
	                  pub->publicArea.nameAlg, TPMA_SESSION_ENCRYPT);
	if (r < 0)
		return r;
	if (p->bank) {
		pcr_selection(p, &sel);
		/* An empty pcrDigest: the TPM takes the PCRs as they are. */
		rc = tss.Esys_PolicyPCR(t->esys, t->session, ESYS_TR_NONE,
		                        ESYS_TR_NONE, ESYS_TR_NONE, &current,
		                        &sel);
		if (rc != TSS2_RC_SUCCESS)
			return tpm_fail(t, "PolicyPCR failed", rc);
	}
	rc = tss.Esys_Unseal(t->esys, t->object, t->session, ESYS_TR_NONE,
	                     ESYS_TR_NONE, data);
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (p->bank && (rc & 0xffff & (TPM2_RC_FMT1 | 0x3f)) ==
	    TPM2_RC_POLICY_FAIL) {
		log_err("tpm2: the TPM refuses to unseal: PCRs %s changed since "
		        "the binding", pcr_spec(p, spec, sizeof(spec)));
		return -EACCES;
	}
	return tpm_fail(t, "cannot unseal the key", rc);
}

static int
tpm2_decrypt(const json_t *jwe, const json_t *hdr, uint8_t **pt, size_t *len)
{
	const json_t *tpm2 = json_object_get(json_object_get(hdr, "clevis"),
	                                     "tpm2");
	TPM2B_SENSITIVE_DATA *data = NULL;
	struct tpm t = { 0 };
	struct tpm2_params p;
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	json_t *jwk = NULL;
	int r;

	if ((r = tss_load()) < 0 ||
	    (r = parse_header(tpm2, &p, &pub, &priv)) < 0)
		return r;
	r = tpm_open(&t);
	if (r == 0)
		r = create_primary(&t, &p);
	if (r == 0)
		r = load(&t, &pub, &priv);
	if (r == 0)
		r = unseal(&t, &p, &pub, &data);
	tpm_close(&t);
	if (r < 0)
		return r;
	/* clevis seals the JWK with a newline after it. */
	jwk = json_loadb((const char *)data->buffer, data->size, 0, NULL);
	explicit_bzero(data, sizeof(*data));
	tss.Esys_Free(data);
	if (!json_is_object(jwk)) {
		json_decref(jwk);
		log_err("tpm2: the unsealed key is not a JWK");
		return -EBADMSG;
	}
	r = jwe_decrypt(jwe, jwk, pt, len);
	if (r < 0 && r != -ENOPKG)
		log_err("tpm2: the TPM unsealed a key, but the JWE does not "
		        "decrypt with it (damaged or tampered)");
	jwk_free_secret(jwk);
	return r;
}

const struct pin pin_tpm2 = {
	.name = "tpm2",
	.summary = "this machine's TPM 2.0",
	.config_help =
	"  hash        the objects' name algorithm: sha1, sha256 (default),\n"
	"              sha384, sha512, sm3_256\n"
	"  key         the primary key: ecc (default, P-256), ecc384, ecc521,\n"
	"              rsa (2048 bits), rsa3072, rsa4096\n"
	"  pcr_ids     PCRs the key is sealed to, \"0,7\" or [0,7]; without it,\n"
	"              no PCR policy\n"
	"  pcr_bank    their bank: sha1 (default, as clevis), sha256, ...\n"
	"  pcr_digest  the values to seal to (base64url of the PCR values,\n"
	"              concatenated); default: the PCRs as they are now\n"
	TCTI_ENV " names the TPM as for tpm2-tools (default " TCTI_DEFAULT
	"),\ne.g. swtpm:host=127.0.0.1,port=2321.\n",
	.encrypt = tpm2_encrypt,
	.decrypt = tpm2_decrypt,
};
