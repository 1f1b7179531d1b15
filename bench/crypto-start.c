/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The start of a program that loads libcrypto and does nothing with it:
 * what any client of the McCallum-Relyea exchange pays before its first
 * point multiplication, when it uses the system's OpenSSL (bench/client.sh
 * prints it beside /bin/true in the floor of a decrypt).
 */
#include <openssl/crypto.h>

int
main(void)
{
	/* A call, so that the linker keeps libcrypto as a dependency. */
	return OpenSSL_version_num() == 0;
}
