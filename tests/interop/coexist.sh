#!/usr/bin/env bash
# Coexistence with Debian's clevis: with tether's token plugin visible to
# cryptsetup, every `clevis luks` command works as it does without it, and
# `cryptsetup luksDump` prints the same bytes (clevis reads the line
# before "Keyslot:" as the token's type). The plugin is lent to cryptsetup
# in a private mount namespace, as in luks-token.sh; nothing is installed.
. "$(dirname "$0")/lib.sh"
: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the plugin}"
. "$(dirname "$0")/luks-lib.sh"
lend_token_plugin

# cl ARGS...: `clevis luks ARGS` with the plugin loaded; output in
# $TEST_DIR/out, exit status in RC.
cl() {
	RC=0
	with_plugin timeout $TB clevis luks "$@" </dev/null \
		>"$TEST_DIR/out" 2>"$TEST_DIR/err" || RC=$?
}

expect_ok() { # DESCRIPTION: the last cl exited 0
	if [ "$RC" -eq 0 ]; then
		ok "$1"
	else
		not_ok "$1" "exit status $RC" "$(head -c 2000 "$TEST_DIR/err")"
	fi
}

exchange_kid() { # IMAGE TOKEN: the kid the clevis token's JWE names
	cryptsetup token export --token-id "$2" "$TEST_DIR/$1" |
		jose fmt -j- -g jwe -g protected -u- | jose b64 dec -i- |
		jose fmt -j- -g kid -u-
}

mkdir -m 0700 "$TEST_DIR/keys"
start_tetherd srv "$TEST_DIR/keys" || { not_ok "tetherd starts"; done_testing; exit 1; }
CFG="{\"url\":\"$URL\"}"
ok "tetherd starts"

# ------------------------------------------------ bind with the plugin
# jose 11 writes "ciphertext" twice in the token clevis imports; the
# plugin's validate sees that text and must take it as cryptsetup does.
new_image bound.img
printf %s "$PASS" >"$TEST_DIR/pass"
RC=0
with_plugin timeout $TB clevis luks bind -y -d "$TEST_DIR/bound.img" \
	-k "$TEST_DIR/pass" tang "$CFG" </dev/null >"$TEST_DIR/out" 2>"$TEST_DIR/err" ||
	RC=$?
expect_ok "clevis luks bind with the plugin loaded"
check "... cryptsetup opens that binding through the plugin (--token-only)" \
	with_plugin timeout $TB cryptsetup open --test-passphrase --token-only \
	"$TEST_DIR/bound.img"

# ------------------------------------------------ luksDump text
# The binding the other commands use is made without the plugin, so each
# check below depends on the plugin only through what it does to them.
new_image c.img
check "clevis luks bind without the plugin" timeout $TB clevis luks bind -y \
	-d "$TEST_DIR/c.img" -k "$TEST_DIR/pass" tang "$CFG"
cryptsetup luksDump "$TEST_DIR/c.img" >"$TEST_DIR/dump.plain" 2>&1
with_plugin cryptsetup luksDump "$TEST_DIR/c.img" >"$TEST_DIR/dump.plugin" 2>&1
check "luksDump prints the same bytes with and without the plugin" \
	cmp "$TEST_DIR/dump.plain" "$TEST_DIR/dump.plugin"
check "... and its tokens section reads '0: clevis' then the keyslot" \
	grep -Pzq '\n  0: clevis\n\tKeyslot:    1\n' "$TEST_DIR/dump.plugin"

# ------------------------------------------------ list, pass, unlock
cl list -d "$TEST_DIR/c.img"
check_eq "clevis luks list shows the binding" "1: tang '$CFG'" "$(cat "$TEST_DIR/out")"
cl pass -d "$TEST_DIR/c.img" -s 1
expect_ok "clevis luks pass recovers slot 1's passphrase"
cp "$TEST_DIR/out" "$TEST_DIR/slot1.key"
check "... and it opens keyslot 1" opens_with c.img "$(cat "$TEST_DIR/slot1.key")" 1
# No device-mapper here: clevis luks unlock's own step, finding the slot
# and its passphrase, is what `pass` exercises; the open is cryptsetup's.
check "cryptsetup opens clevis's binding through the plugin (--token-only)" \
	with_plugin timeout $TB cryptsetup open --test-passphrase --token-only \
	"$TEST_DIR/c.img"

# ------------------------------------------------ report and regen
cl report -q -d "$TEST_DIR/c.img" -s 1
expect_ok "clevis luks report on a current binding exits 0"
old_kid=$(exchange_kid c.img 0)
old_sig=$(key_thps "$TEST_DIR/keys" verify)
check "tetherd keys rotate" "$TETHERD" keys rotate --keys "$TEST_DIR/keys"
old_key_gone() { ! adv_signing_thps "$URL" | grep -qF -- "$old_sig"; }
if wait_for "" old_key_gone; then
	ok "tetherd stops advertising the rotated keys"
else
	not_ok "tetherd stops advertising the rotated keys"
fi
cl report -q -d "$TEST_DIR/c.img" -s 1
check_eq "clevis luks report after rotation exits 1, naming the rotated key" \
	"1 yes" "$RC $(grep -qF -- "$old_kid" "$TEST_DIR/out" && echo yes)"
cl regen -q -d "$TEST_DIR/c.img" -s 1
expect_ok "clevis luks regen -q rebinds slot 1"
new_kid=$(exchange_kid c.img 0)
if [ -n "$new_kid" ] && [ "$new_kid" != "$old_kid" ]; then
	ok "... the new binding names the new exchange key"
else
	not_ok "... the new binding names the new exchange key" \
		"old: $old_kid" "new: $new_kid"
fi
cl report -q -d "$TEST_DIR/c.img" -s 1
expect_ok "... and report is clean afterwards"
cl pass -d "$TEST_DIR/c.img" -s 1
check "... clevis luks pass recovers the new passphrase, which opens slot 1" \
	opens_with c.img "$(cat "$TEST_DIR/out")" 1

# ------------------------------------------------ unbind
cl unbind -f -d "$TEST_DIR/c.img" -s 1
expect_ok "clevis luks unbind -f removes the binding"
cl list -d "$TEST_DIR/c.img"
check_eq "... then no token is left and clevis luks list shows nothing" \
	"[] 0 " "$(cryptsetup luksDump --dump-json-metadata "$TEST_DIR/c.img" |
		jq -c '.tokens | keys') $RC $(cat "$TEST_DIR/out")"
check "... the passphrase still opens keyslot 0" opens_with c.img "$PASS" 0

done_testing
