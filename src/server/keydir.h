/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_KEYDIR_H
#define TETHERD_KEYDIR_H

#include "common/jwk.h"

#include <stdbool.h>
#include <sys/types.h>

/*
 * Refuses (-EPERM) a keys directory of this mode that every user may
 * write to (anyone could add a key), saying so unless quiet.
 */
int keydir_check_mode(const char *path, mode_t mode, bool quiet);

/* Opens a keys directory, refusing one keydir_check_mode refuses; logs
   and returns -errno on failure. */
int keydir_open(const char *path);

/*
 * Generates an ES512 signing key and an ECMR exchange key (P-521) and writes
 * each, mode 0600, as <S256 thumbprint>.jwk. The signing key's thumbprint is
 * copied to sig_thp when it is not NULL. Returns 0 or -errno.
 */
int keydir_create(int dirfd, char sig_thp[JWK_THP_MAX + 1]);

/*
 * Creates a new pair, then hides every key that was advertised before
 * (X.jwk becomes .X.jwk): the old keys stop being advertised but still
 * answer recoveries. The directory always holds an advertised pair.
 */
int keydir_rotate(int dirfd, char sig_thp[JWK_THP_MAX + 1]);

/*
 * Removes the temporary files of writes that never finished (a killed
 * `tetherd keys create`): each may hold a private key never put in
 * service. Only the exact names write_file_at makes are touched, and only
 * regular files the directory's owner or this process's user owns that
 * no writer still holds. Logs each removal. Returns 0 or -errno.
 */
int keydir_remove_temps(int dirfd, const char *path);

#endif
