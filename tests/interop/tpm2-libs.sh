#!/usr/bin/env bash
# The TSS libraries are loaded only when the tpm2 pin runs: tether,
# tether-luks and the token plugin link none of them, nor call them by
# name. With every libtss2 hidden (a private mount namespace over the
# directory that holds them), a tpm2 encrypt or decrypt fails saying the
# pin needs tpm2-tss, while tang, and sss t=1 of {tpm2, tang}, still
# decrypt and the TPM's share is counted as missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/swtpm-lib.sh"

: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the token plugin}"
tether_luks=$(dirname "$TETHER")/tether-luks

# links_no_tss NAME FILE: one TAP line for what FILE's loader would load,
# one for the symbols FILE leaves to its libraries.
links_no_tss() {
	local libs syms
	if ! libs=$(ldd "$2" 2>&1); then
		not_ok "$1 links no libtss2" "ldd failed:" "$libs"
	elif grep -q 'libtss2' <<<"$libs"; then
		not_ok "$1 links no libtss2" "$libs"
	else
		ok "$1 links no libtss2"
	fi
	syms=$(nm -D --undefined-only "$2" 2>&1 |
		awk '$2 ~ /^(Esys|Tss2)_/ { print $2 }')
	check_eq "$1 needs no Esys_* or Tss2_* symbol" "" "$syms"
}

links_no_tss tether "$TETHER"
links_no_tss tether-luks "$tether_luks"
links_no_tss "the token plugin" "$TETHER_TOKEN_PLUGIN"

PLAIN=$TEST_DIR/plain
head -c 2000 /dev/urandom >"$PLAIN"
d=$TEST_DIR/jwe
mkdir "$d"

use_swtpm
mkdir -m 0700 "$TEST_DIR/keys"
start_tetherd srv "$TEST_DIR/keys" || not_ok "tetherd starts" "$(tail -n 5 "$TEST_DIR/srv.log")"
thp=$(key_thps "$TEST_DIR/keys" verify)
TANG="{\"url\":\"$URL\",\"thp\":\"$thp\"}"
trun "$PLAIN" "$d/tpm2.jwe" encrypt tpm2 '{}'
expect_ok "tether encrypt tpm2"
trun "$PLAIN" "$d/tang.jwe" encrypt tang "$TANG"
expect_ok "tether encrypt tang"
trun "$PLAIN" "$d/sss.jwe" encrypt sss "{\"t\":1,\"pins\":{\"tpm2\":{},\"tang\":$TANG}}"
expect_ok "tether encrypt sss t=1 of {tpm2, tang}"
recovers "with tpm2-tss: tether decrypts the tpm2 JWE" tether "$d/tpm2.jwe"

# ------------------------------------------------ tpm2-tss hidden

if ! tether_without tss libtss2-esys.so.0 'libtss2-*'; then
	skip "tpm2-tss hidden in a private mount namespace" \
		"no private mount namespaces, overlay mounts or whiteouts here"
	done_testing
	exit 0
fi
check "tpm2-tss hidden: tether --version runs" "$TEST_DIR/tether-no-tss" --version

TETHER=$TEST_DIR/tether-no-tss trun "$d/tpm2.jwe" "$d/tpm2.out" decrypt
expect_refused "tpm2-tss hidden: tether decrypt of a tpm2 JWE says it needs it" \
	"$d/tpm2.out" "the tpm2 pin needs tpm2-tss \(libtss2-esys\.so\.0\)"
TETHER=$TEST_DIR/tether-no-tss trun "$PLAIN" "$d/none.jwe" encrypt tpm2 '{}'
expect_refused "tpm2-tss hidden: tether encrypt tpm2 says it needs it" \
	"$d/none.jwe" "the tpm2 pin needs tpm2-tss \(libtss2-esys\.so\.0\)"
TETHER=$TEST_DIR/tether-no-tss recovers \
	"tpm2-tss hidden: tether decrypts the tang JWE" tether "$d/tang.jwe"
TETHER=$TEST_DIR/tether-no-tss recovers \
	"tpm2-tss hidden: tether decrypts sss t=1 of {tpm2, tang} with tang" \
	tether "$d/sss.jwe"
check "... and says why the TPM's share is missing" \
	grep -q 'the tpm2 pin needs tpm2-tss' "$TEST_DIR/err"
done_testing
