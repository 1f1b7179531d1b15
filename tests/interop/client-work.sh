#!/usr/bin/env bash
# tether decrypt does the minimum: the two P-521 point multiplications of
# the client's half of the exchange (Z = Y - e*S after sending X = epk +
# e*G) and no more, and none of OpenSSL 3's provider fetches, whose first
# one in a process builds the provider's whole algorithm table (about
# half the instructions of a decrypt, measured with callgrind). A
# preloaded library counts the calls (count-calls.c); `tether encrypt`,
# which verifies an ES512 signature through EVP, shows that it sees
# fetches where there are some.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

: "${COUNT_CALLS_SHIM:?COUNT_CALLS_SHIM must name the count-calls library}"

bail() { # DESCRIPTION [DETAIL...]: a set-up step failed, nothing after it can run
	not_ok "$@"
	done_testing
	exit 1
}

PLAIN=$TEST_DIR/plain
head -c 64 /dev/urandom >"$PLAIN"
mkdir -m 0700 "$TEST_DIR/a-keys" "$TEST_DIR/b-keys"
start_tetherd a "$TEST_DIR/a-keys" || bail "tetherd a starts"
A_URL=$URL
start_tetherd b "$TEST_DIR/b-keys" || bail "tetherd b starts"
B_URL=$URL
curl -sf "$A_URL/adv" >"$TEST_DIR/a.adv" && curl -sf "$B_URL/adv" >"$TEST_DIR/b.adv" ||
	bail "the advertisements are fetched"

# A sanitizer runtime must come first among the preloaded libraries.
PRELOAD=$COUNT_CALLS_SHIM
asan=$(ldd "$TETHER" | awk '/libasan/ { print $3 }')
[ -z "$asan" ] || PRELOAD="$asan $COUNT_CALLS_SHIM"

# counted NAME ARGS... < IN > OUT: runs tether with the calls counted into
# $TEST_DIR/NAME.calls.
counted() {
	local name=$1
	shift
	rm -f "$TEST_DIR/$name.calls"
	env LD_PRELOAD="$PRELOAD" COUNT_CALLS_FILE="$TEST_DIR/$name.calls" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$TETHER" "$@"
}

# calls NAME PATTERN: how many counted calls of NAME match PATTERN.
calls() {
	touch "$TEST_DIR/$1.calls"
	grep -c -E "$2" "$TEST_DIR/$1.calls" || true
}

# decrypted NAME JWE: the counted decrypt gave the plaintext back.
decrypted() {
	if counted "$1" decrypt <"$2" >"$TEST_DIR/$1.out" 2>"$TEST_DIR/$1.err" &&
		cmp -s "$TEST_DIR/$1.out" "$PLAIN"; then
		ok "$1: tether decrypt gives the plaintext back"
	else
		not_ok "$1: tether decrypt gives the plaintext back" "$(cat "$TEST_DIR/$1.err")"
	fi
}

# ------------------------------------------------ the counter itself
config=$(printf '{"url":"%s","adv":"%s"}' "$A_URL" "$TEST_DIR/a.adv")
if counted encrypt encrypt tang "$config" <"$PLAIN" >"$TEST_DIR/tether.jwe" \
	2>"$TEST_DIR/encrypt.err"; then
	ok "tether encrypt tang runs with the counter preloaded"
else
	not_ok "tether encrypt tang runs with the counter preloaded" "$(cat "$TEST_DIR/encrypt.err")"
fi
check "the counter sees encrypt's fetches (the ES512 signature is verified through EVP)" \
	test "$(calls encrypt '_fetch$|^EVP_PKEY_CTX_new_from_name$')" -gt 0
check_eq "encrypt tang: 3 point multiplications (e*G for the key's epk, and the exchange's two)" \
	3 "$(calls encrypt '^EC_POINT_mul$')"

# ------------------------------------------------ decrypt: tang
clevis encrypt tang "$config" <"$PLAIN" >"$TEST_DIR/clevis.jwe" 2>"$TEST_DIR/clevis.err" ||
	bail "clevis encrypt tang" "$(cat "$TEST_DIR/clevis.err")"
for jwe in clevis tether; do
	decrypted "$jwe-tang" "$TEST_DIR/$jwe.jwe"
	check_eq "$jwe-tang: decrypt makes exactly 2 point multiplications" \
		2 "$(calls "$jwe-tang" '^EC_POINT_mul$')"
	check_eq "$jwe-tang: ... and no provider fetch (digest, cipher, MAC, KDF, key)" \
		0 "$(calls "$jwe-tang" '_fetch$|^EVP_PKEY_CTX_new_from_name$')"
	check_eq "$jwe-tang: ... and draws nothing from OpenSSL's DRBG" \
		0 "$(calls "$jwe-tang" '^RAND_')"
done

# ------------------------------------------------ decrypt: sss of two tang
sss=$(printf '{"t":2,"pins":{"tang":[{"url":"%s","adv":"%s"},{"url":"%s","adv":"%s"}]}}' \
	"$A_URL" "$TEST_DIR/a.adv" "$B_URL" "$TEST_DIR/b.adv")
clevis encrypt sss "$sss" <"$PLAIN" >"$TEST_DIR/sss.jwe" 2>"$TEST_DIR/clevis.err" ||
	bail "clevis encrypt sss" "$(cat "$TEST_DIR/clevis.err")"
decrypted sss "$TEST_DIR/sss.jwe"
check_eq "sss 2 of 2: 4 point multiplications, two per server" \
	4 "$(calls sss '^EC_POINT_mul$')"
check_eq "sss 2 of 2: ... and no provider fetch" \
	0 "$(calls sss '_fetch$|^EVP_PKEY_CTX_new_from_name$')"

done_testing
