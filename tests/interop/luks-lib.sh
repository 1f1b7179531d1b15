# shellcheck shell=bash
# Helpers for the tests on LUKS images: images, headers before and after,
# and the token plugin lent to cryptsetup. Sourced after lib.sh (tl needs
# client-lib.sh too).

PASS="correct horse"
TB=60

new_image() { # NAME [TYPE]: an image whose keyslot 0 holds $PASS (LUKS2)
	truncate -s 32M "$TEST_DIR/$1"
	printf %s "$PASS" | cryptsetup luksFormat --type "${2:-luks2}" \
		--batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		"$TEST_DIR/$1" -
}

# header NAME: the LUKS2 metadata and keyslot area, for before/after.
header() {
	cryptsetup luksDump --dump-json-metadata "$TEST_DIR/$1"
	dd if="$TEST_DIR/$1" bs=1M count=16 status=none | sha256sum
}
save_header() { header "$1" >"$TEST_DIR/$1.before"; }

opens_with() { # NAME PASSPHRASE [SLOT]
	printf %s "$2" | cryptsetup open --test-passphrase --key-file - \
		${3:+--key-slot "$3"} "$TEST_DIR/$1" 2>/dev/null
}

pass_opens() { # NAME SLOT [TOOL]: TOOL's (tether's) luks pass of SLOT opens it
	timeout "$TB" "${3:-$TETHER}" luks pass -d "$TEST_DIR/$1" -s "$2" \
		>"$TEST_DIR/p" 2>/dev/null &&
		opens_with "$1" "$(cat "$TEST_DIR/p")" "$2"
}

tl() { # tether luks ARGS... with stdin from $IN (default /dev/null)
	trun "${IN:-/dev/null}" "$TEST_DIR/out" luks "$@"
}

# start_servers_a_b: tetherd a on $TEST_DIR/keys and b on keys-b; sets
# URL_A, A_PORT, A_PID, URL_B and their configurations CFG and CFG_B.
# Ends the test when either cannot start.
start_servers_a_b() {
	mkdir -m 0700 "$TEST_DIR/keys" "$TEST_DIR/keys-b"
	start_tetherd a "$TEST_DIR/keys" ||
		{ not_ok "tetherd starts"; done_testing; exit 1; }
	URL_A=$URL
	A_PORT=$PORT
	A_PID=$a_PID
	start_tetherd b "$TEST_DIR/keys-b" ||
		{ not_ok "tetherd b starts"; done_testing; exit 1; }
	URL_B=$URL
	CFG="{\"url\":\"$URL_A\"}"
	CFG_B="{\"url\":\"$URL_B\"}"
}

# lend_token_plugin: with_plugin COMMAND... then runs COMMAND seeing
# tether's plugin in libcryptsetup's token directory, in a private mount
# namespace (nothing is installed on the host). A sanitized plugin gets
# its runtime loaded into cryptsetup only: the other programs a command
# runs (clevis's scripts) are not ours to check. Ends the test with a
# TAP skip where there are no private mount namespaces.
lend_token_plugin() {
	local asan
	token_dir=$(cryptsetup --help | sed -n 's/.*token plugin path: \(.*\)\.$/\1/p')
	if [ -z "$token_dir" ] || ! unshare -m true 2>/dev/null; then
		echo "1..0 # SKIP no private mount namespaces or no token plugin path"
		exit 0
	fi
	mkdir "$TEST_DIR/tokens" "$TEST_DIR/bin"
	cp "$TETHER_TOKEN_PLUGIN" "$TEST_DIR/tokens/"
	asan=$(ldd "$TETHER_TOKEN_PLUGIN" | awk '/libasan/ { print $3 }')
	if [ -n "$asan" ]; then
		printf '#!/bin/sh\nLD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 exec %s "$@"\n' \
			"$asan" "$(command -v cryptsetup)" >"$TEST_DIR/bin/cryptsetup"
		chmod +x "$TEST_DIR/bin/cryptsetup"
	fi
}

with_plugin() {
	unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' \
		sh "$TEST_DIR/tokens" "$token_dir" \
		env PATH="$TEST_DIR/bin:$PATH" "$@"
}
