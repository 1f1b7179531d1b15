/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_TSS_H
#define TETHER_TSS_H

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

/*
 * The tpm2-tss functions the tpm2 pin calls. tether links none of the
 * TSS libraries: they are loaded (dlopen) the first time the pin runs,
 * so that no other command, and no initramfs without a tpm2 binding,
 * loads them. Each member is named after its function and has the type
 * of the library's own prototype.
 */
#define TSS_FUNCTIONS(X) \
	X(TSS_ESYS, Esys_Initialize) \
	X(TSS_ESYS, Esys_Finalize) \
	X(TSS_ESYS, Esys_FlushContext) \
	X(TSS_ESYS, Esys_Free) \
	X(TSS_ESYS, Esys_CreatePrimary) \
	X(TSS_ESYS, Esys_Create) \
	X(TSS_ESYS, Esys_Load) \
	X(TSS_ESYS, Esys_Unseal) \
	X(TSS_ESYS, Esys_PCR_Read) \
	X(TSS_ESYS, Esys_StartAuthSession) \
	X(TSS_ESYS, Esys_TRSess_SetAttributes) \
	X(TSS_ESYS, Esys_PolicyPCR) \
	X(TSS_ESYS, Esys_PolicyGetDigest) \
	X(TSS_TCTILDR, Tss2_TctiLdr_Initialize) \
	X(TSS_TCTILDR, Tss2_TctiLdr_Finalize) \
	X(TSS_MU, Tss2_MU_TPM2B_PUBLIC_Marshal) \
	X(TSS_MU, Tss2_MU_TPM2B_PUBLIC_Unmarshal) \
	X(TSS_MU, Tss2_MU_TPM2B_PRIVATE_Marshal) \
	X(TSS_MU, Tss2_MU_TPM2B_PRIVATE_Unmarshal) \
	X(TSS_RC, Tss2_RC_Decode)

/* The libraries, in the order they are loaded. */
enum tss_lib { TSS_ESYS, TSS_TCTILDR, TSS_MU, TSS_RC, TSS_NLIBS };

struct tss {
#define TSS_MEMBER(lib, fn) __typeof__(fn) *fn;
	TSS_FUNCTIONS(TSS_MEMBER)
#undef TSS_MEMBER
};

/* Filled by tss_load; read only after it returned 0 in this thread. */
extern struct tss tss;

/*
 * Loads the libraries and resolves every function, once per process
 * (later calls return the first outcome). 0, or -ENOPKG, said on
 * stderr, when a library or a function is missing.
 */
int tss_load(void);

#endif
