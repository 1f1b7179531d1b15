#!/usr/bin/env bash
# tether's libcryptsetup token plugin: Debian's cryptsetup opens LUKS2
# images bound by clevis or by tether through their servers, with no
# passphrase, and only while the servers answer. cryptsetup 2.6 loads
# plugins from one compiled-in directory, so each run lends it the plugin
# in a private mount namespace instead of installing anything.
. "$(dirname "$0")/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"
: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the plugin}"
. "$(dirname "$0")/luks-lib.sh"
lend_token_plugin

token_open() { # IMAGE: opens through tokens only, no passphrase
	with_plugin timeout 60 cryptsetup open --test-passphrase --token-only \
		"$TEST_DIR/$1" </dev/null
}

mkdir -m 0700 "$TEST_DIR/keys-a" "$TEST_DIR/keys-b"
start_tetherd a "$TEST_DIR/keys-a" || { not_ok "tetherd a starts"; done_testing; exit 1; }
URL_A=$URL
A_PID=$a_PID
start_tetherd b "$TEST_DIR/keys-b" || { not_ok "tetherd b starts"; done_testing; exit 1; }
URL_B=$URL
ok "two tetherd servers start"

# ------------------------------------------------ clevis's binding, tang
new_image clevis.img
check "clevis luks bind (tang)" sh -c "printf %s '$PASS' |
	clevis luks bind -y -d '$TEST_DIR/clevis.img' -k - tang '{\"url\":\"$URL_A\"}'"
check "cryptsetup opens clevis's binding through the plugin" \
	token_open clevis.img
if timeout 60 cryptsetup open --test-passphrase --token-only \
	"$TEST_DIR/clevis.img" </dev/null >/dev/null 2>&1; then
	not_ok "without the plugin, --token-only cannot open it (the plugin did the work)"
else
	ok "without the plugin, --token-only cannot open it (the plugin did the work)"
fi
# clevis reads the token's type from the line before "Keyslot:".
cryptsetup luksDump "$TEST_DIR/clevis.img" >"$TEST_DIR/dump.plain" 2>&1
with_plugin cryptsetup luksDump "$TEST_DIR/clevis.img" >"$TEST_DIR/dump" 2>&1
check "luksDump through the plugin prints what it prints without it" \
	cmp "$TEST_DIR/dump.plain" "$TEST_DIR/dump"

# ------------------------------------------------ tether's binding, sss
new_image tether.img
check "tether luks bind (sss, 2 of 2 servers)" sh -c "printf %s '$PASS' |
	'$TETHER' luks bind -y -d '$TEST_DIR/tether.img' -k - sss \
	'{\"t\":2,\"pins\":{\"tang\":[{\"url\":\"$URL_A\"},{\"url\":\"$URL_B\"}]}}'"
check "cryptsetup opens tether's sss binding through the plugin" \
	token_open tether.img

# ------------------------------------------------ validation
printf '{"type":"clevis","keyslots":["0"],"jwe":{"protected":"e30"}}' \
	>"$TEST_DIR/bad-token.json"
if with_plugin cryptsetup token import --json-file "$TEST_DIR/bad-token.json" \
	"$TEST_DIR/clevis.img" >/dev/null 2>&1; then
	not_ok "the plugin refuses a malformed clevis token on import"
else
	ok "the plugin refuses a malformed clevis token on import"
fi
check "... and the image still opens through its good token" \
	token_open clevis.img

# Repeated members (jose 11 repeats "ciphertext"): the last one wins, as
# in json-c, which stores the token that open later reads back.
cp "$TEST_DIR/clevis.img" "$TEST_DIR/dup.img"
cryptsetup token export --token-id 0 "$TEST_DIR/dup.img" >"$TEST_DIR/tok.json"
cryptsetup token remove --token-id 0 "$TEST_DIR/dup.img"
sed 's/"jwe":{/"jwe":{"protected":"e30",/' "$TEST_DIR/tok.json" \
	>"$TEST_DIR/dup-first.json"
sed 's/}}$/,"protected":"e30"}}/' "$TEST_DIR/tok.json" >"$TEST_DIR/dup-last.json"
if with_plugin cryptsetup token import --json-file "$TEST_DIR/dup-last.json" \
	"$TEST_DIR/dup.img" >/dev/null 2>&1; then
	not_ok "a token whose last \"protected\" is malformed is refused on import"
else
	ok "a token whose last \"protected\" is malformed is refused on import"
fi
check "a token whose first \"protected\" is malformed imports (the last wins)" \
	with_plugin cryptsetup token import --json-file "$TEST_DIR/dup-first.json" \
	"$TEST_DIR/dup.img"
check "... and opens the image through the plugin" token_open dup.img

# ------------------------------------------------ servers gone
stop_pid "$A_PID"
if token_open clevis.img >/dev/null 2>&1; then
	not_ok "with its server stopped, the clevis binding no longer opens the image"
else
	ok "with its server stopped, the clevis binding no longer opens the image"
fi
if token_open tether.img >/dev/null 2>&1; then
	not_ok "with one of two servers stopped, the 2-of-2 binding no longer opens"
else
	ok "with one of two servers stopped, the 2-of-2 binding no longer opens"
fi
for img in clevis.img tether.img; do
	check "$img still opens with its passphrase" sh -c "printf %s '$PASS' |
		cryptsetup open --test-passphrase --key-file - '$TEST_DIR/$img'"
done

done_testing
