#!/usr/bin/env bash
# The client's programs load no libjose: its constructor alone seeds
# OpenSSL's DRBG, a third of a `tether decrypt`, and it is one library
# fewer in an initramfs. tetherd may still link it.
. "$(dirname "$0")/lib.sh"

: "${TETHER:?TETHER must name the tether binary}"
: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the token plugin}"
tether_luks=$(dirname "$TETHER")/tether-luks

# no_libjose NAME FILE: one TAP line, failing with the list of libraries.
no_libjose() {
	local libs
	if ! libs=$(ldd "$2" 2>&1); then
		not_ok "$1 links no libjose" "ldd failed:" "$libs"
	elif grep -q 'libjose' <<<"$libs"; then
		not_ok "$1 links no libjose" "$libs"
	else
		ok "$1 links no libjose"
	fi
}

no_libjose tether "$TETHER"
no_libjose tether-luks "$tether_luks"
no_libjose "the token plugin" "$TETHER_TOKEN_PLUGIN"

# Nor is any of libjose's symbols left for another library to resolve.
check_eq "tether needs no jose_* symbol" "" \
	"$(nm -D --undefined-only "$TETHER" | awk '$2 ~ /^jose_/ { print $2 }')"

done_testing
