#!/usr/bin/env bash
# tether luks against Debian's clevis luks and cryptsetup, on image files:
# bindings made by either tool are listed, passed, unlocked, regenerated
# and removed by the other; every failure leaves the header as it was, and
# the original passphrase always opens the image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"

# unchanged DESCRIPTION NAME: the header equals the one saved as NAME.before
# and the passphrase still opens the image.
unchanged() {
	if [ "$(header "$2")" = "$(cat "$TEST_DIR/$2.before")" ] &&
		opens_with "$2" "$PASS" 0; then
		ok "$1"
	else
		not_ok "$1" "the header changed, or the passphrase no longer opens it"
	fi
}


start_servers_a_b
ok "two tetherd servers start"
printf %s "$PASS" >"$TEST_DIR/passfile"
SSS="{\"t\":2,\"pins\":{\"tang\":[{\"url\":\"$URL_A\"},{\"url\":\"$URL_B\"}]}}"

# --------------------------------------------- clevis binds, tether reads
new_image c.img
check "clevis luks bind (tang)" sh -c "timeout $TB clevis luks bind -y \
	-d '$TEST_DIR/c.img' -k - tang '$CFG' <'$TEST_DIR/passfile'"
tl list -d "$TEST_DIR/c.img"
expect_ok "tether luks list reads clevis's binding"
check_eq "... and prints what clevis luks list prints" \
	"$(clevis luks list -d "$TEST_DIR/c.img")" "$(cat "$TEST_DIR/out")"
tl pass -d "$TEST_DIR/c.img" -s 1
expect_ok "tether luks pass recovers clevis's passphrase"
check_eq "... the same one clevis luks pass prints" \
	"$(clevis luks pass -d "$TEST_DIR/c.img" -s 1 | od -An -tx1)" \
	"$(od -An -tx1 <"$TEST_DIR/out")"
check "... and it opens keyslot 1" opens_with c.img "$(cat "$TEST_DIR/out")" 1
tl unlock -d "$TEST_DIR/c.img" --test-passphrase
expect_ok "tether luks unlock --test-passphrase opens clevis's binding"

# --------------------------------------------- tether binds, clevis reads
new_image t.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/t.img" -k - tang "$CFG"
expect_ok "tether luks bind -k - (tang)"
check_eq "clevis luks list reads tether's binding in slot 1" \
	"1: tang '$CFG'" "$(clevis luks list -d "$TEST_DIR/t.img")"
p=$(timeout $TB clevis luks pass -d "$TEST_DIR/t.img" -s 1)
check "clevis luks pass recovers tether's passphrase, which opens slot 1" \
	opens_with t.img "$p" 1
check_eq "the passphrase carries the volume key's 512 bits (86 base64url characters)" \
	86 "${#p}"
check_eq "the token has exactly clevis's members" \
	'["jwe","keyslots","type"] ["ciphertext","encrypted_key","iv","protected","tag"] "1"' \
	"$(cryptsetup token export --token-id 0 "$TEST_DIR/t.img" |
		jq -c '(keys), (.jwe | keys), .keyslots[0]' | tr '\n' ' ' | sed 's/ $//')"
check "keyslot 1 uses PBKDF2 with 1000 iterations, as clevis's" sh -c \
	"cryptsetup luksDump --dump-json-metadata '$TEST_DIR/t.img' |
	jq -e '.keyslots[\"1\"].kdf | .type == \"pbkdf2\" and .iterations == 1000'"
tl bind -y -d "$TEST_DIR/t.img" -k "$TEST_DIR/passfile" -s 5 -t 7 sss "$SSS"
expect_ok "tether luks bind -k FILE -s 5 -t 7 (sss over two servers)"
check_eq "clevis luks list shows the sss binding in slot 5 as tether does" \
	"$(clevis luks list -d "$TEST_DIR/t.img" -s 5)" \
	"$("$TETHER" luks list -d "$TEST_DIR/t.img" -s 5)"
check_eq "... in token 7" '["5"]' \
	"$(cryptsetup token export --token-id 7 "$TEST_DIR/t.img" | jq -c .keyslots)"
p=$(timeout $TB clevis luks pass -d "$TEST_DIR/t.img" -s 5)
check "clevis recovers the sss passphrase and it opens slot 5" \
	opens_with t.img "$p" 5
tl bind -y -d "$TEST_DIR/t.img" -s 6 tang "$CFG"
expect_ok "tether luks bind with no -k recovers a passphrase through a binding"
check "... and the new binding opens slot 6" sh -c \
	"'$TETHER' luks pass -d '$TEST_DIR/t.img' -s 6 | cryptsetup open \
	--test-passphrase --key-file - --key-slot 6 '$TEST_DIR/t.img'"

# --------------------------------------------- refusals change nothing
save_header t.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/t.img" -k - -s 5 tang "$CFG"
expect_failed "bind to a keyslot in use is refused" "$TEST_DIR/out" "keyslot 5 is in use"
unchanged "... and the header is unchanged" t.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/t.img" -k - -t 7 tang "$CFG"
expect_failed "bind to a token in use is refused" "$TEST_DIR/out" "token 7 is in use"
unchanged "... and the header is unchanged" t.img
printf wrong >"$TEST_DIR/wrong"
tl bind -y -d "$TEST_DIR/t.img" -k "$TEST_DIR/wrong" tang "$CFG"
expect_failed "bind with a wrong passphrase is refused" "$TEST_DIR/out" "does not open"
unchanged "... and the header is unchanged" t.img
tl bind -y -d "$TEST_DIR/t.img" -k "$TEST_DIR/passfile" tang \
	"{\"url\":\"http://127.0.0.1:$(free_port)\"}"
expect_failed "bind to a server that is down is refused" "$TEST_DIR/out" "127\.0\.0\.1"
unchanged "... and the header is unchanged" t.img
tl unbind -d "$TEST_DIR/t.img" -s 6
expect_failed "unbind without -f and no terminal is refused" "$TEST_DIR/out" "-f"
unchanged "... and the header is unchanged" t.img
tl unbind -f -d "$TEST_DIR/t.img" -s 0
expect_failed "unbind of a slot with no clevis binding is refused" "$TEST_DIR/out" "no clevis binding"
unchanged "... and the header is unchanged" t.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/c.img" -k - -s 2 tang "{\"url\":\"$URL_B\"}"
expect_ok "bind clevis's image a second time, to the other server"
stop_pid "$A_PID"
tl unlock -d "$TEST_DIR/c.img" --test-passphrase
expect_ok "unlock with the first binding's server down goes on to the second"
save_header t.img
tl unlock -d "$TEST_DIR/t.img" --test-passphrase
expect_failed "unlock with every binding's server down fails" "$TEST_DIR/out" "no binding could unlock"
unchanged "... and the header is unchanged" t.img
tl regen -q -d "$TEST_DIR/t.img" -s 1
expect_failed "regen with the server down fails" "$TEST_DIR/out" "."
unchanged "... and the header is unchanged" t.img
tl pass -d "$TEST_DIR/t.img" -s 1
expect_failed "pass with the server down fails, naming it" "$TEST_DIR/out" "127\.0\.0\.1:$A_PORT"
WANT_PORT=$A_PORT start_tetherd a "$TEST_DIR/keys" || not_ok "tetherd a starts again"
A_PID=$a_PID

# --------------------------------------------- unbind
t0=$(cryptsetup luksDump --dump-json-metadata "$TEST_DIR/t.img" | jq -c '.tokens | keys')
tl unbind -f -d "$TEST_DIR/t.img" -s 6
expect_ok "tether luks unbind -f removes slot 6's binding"
check_eq "... its keyslot is gone and the others stay" '["0","1","5"]' \
	"$(cryptsetup luksDump --dump-json-metadata "$TEST_DIR/t.img" | jq -c '.keyslots | keys')"
check_eq "... only its token is gone" "$(echo "$t0" | jq -c '. - ["1"]')" \
	"$(cryptsetup luksDump --dump-json-metadata "$TEST_DIR/t.img" | jq -c '.tokens | keys')"
check "clevis luks unbind removes a tether binding" sh -c \
	"timeout $TB clevis luks unbind -f -d '$TEST_DIR/t.img' -s 5"
check_eq "... and tether sees only slot 1 left" "1: tang '$CFG'" \
	"$("$TETHER" luks list -d "$TEST_DIR/t.img")"
tl unbind -f -d "$TEST_DIR/c.img" -s 1
expect_ok "tether luks unbind removes a clevis binding"
check_eq "... clevis luks list shows only the other one" \
	"2: tang '{\"url\":\"$URL_B\"}'" "$(clevis luks list -d "$TEST_DIR/c.img")"

new_image last.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/last.img" -k - tang "$CFG"
expect_ok "bind a second image"
check "its passphrase keyslot 0 is removed" sh -c \
	"cryptsetup luksKillSlot -q '$TEST_DIR/last.img' 0"
save_header last.img
tl unbind -f -d "$TEST_DIR/last.img" -s 1
expect_failed "unbind of the last keyslot is refused" "$TEST_DIR/out" "last keyslot"
check_eq "... and the header is unchanged" "$(cat "$TEST_DIR/last.img.before")" \
	"$(header last.img)"

# --------------------------------------------- rotation: report, regen
tl report -d "$TEST_DIR/t.img" -s 1
expect_ok "report on a current binding: exit 0"
check_eq "... and nothing printed" "" "$(cat "$TEST_DIR/out")"
old_thps=$(key_thps "$TEST_DIR/keys" verify; key_thps "$TEST_DIR/keys" deriveKey)
check "tetherd keys rotate" "$TETHERD" keys rotate --keys "$TEST_DIR/keys"
old_sig=$(echo "$old_thps" | head -n 1)
old_key_gone() { ! adv_signing_thps "$URL_A" | grep -qF -- "$old_sig"; }
if wait_for "" old_key_gone; then
	ok "tetherd stops advertising the rotated keys"
else
	not_ok "tetherd stops advertising the rotated keys"
fi
tl report -d "$TEST_DIR/t.img" -s 1
check_eq "report after rotation exits 1" 1 "$RC"
check "... and lists the rotated keys' thumbprints" sh -c \
	"for t in $(echo "$old_thps" | tr '\n' ' '); do grep -qF -- \"\$t\" '$TEST_DIR/out' || exit 1; done"
save_header t.img
tl regen -q -d "$TEST_DIR/t.img" -s 1
expect_ok "regen without -y: the new keys are trusted through the old signing key"
check_eq "... the binding is still in slot 1, the only other slot is 0" '["0","1"]' \
	"$(cryptsetup luksDump --dump-json-metadata "$TEST_DIR/t.img" | jq -c '.keyslots | keys')"
tl report -d "$TEST_DIR/t.img" -s 1
expect_ok "... report is clean afterwards"
p=$(timeout $TB clevis luks pass -d "$TEST_DIR/t.img" -s 1)
check "... clevis recovers the new passphrase and it opens slot 1" opens_with t.img "$p" 1
check "... the original passphrase still opens slot 0" opens_with t.img "$PASS" 0
check_eq "... the new binding names the new exchange key" \
	"$(key_thps "$TEST_DIR/keys" deriveKey)" \
	"$(cryptsetup token export --token-id 0 "$TEST_DIR/t.img" | jq -r .jwe.protected |
		jose b64 dec -i- | jq -r .kid)"

# A server that no longer holds the signing key the binding trusted: its
# new keys cannot be vouched for, so regen trusts what it advertises now,
# as clevis's regen does (it passes -y), and says so.
sig=$(key_thps "$TEST_DIR/keys" verify)
check "tetherd keys rotate, again" "$TETHERD" keys rotate --keys "$TEST_DIR/keys"
rm -f "$TEST_DIR/keys/.$sig.jwk"
kill -HUP "$A_PID"
old_sig=$sig
wait_for "" old_key_gone
tl regen -q -d "$TEST_DIR/t.img" -s 1
expect_ok "regen with the trusted signing key gone binds to the keys advertised now"
check "... and says it trusted them as advertised" \
	grep -q "trusting them as advertised" "$TEST_DIR/err"
check_eq "... the binding names the current exchange key" \
	"$(key_thps "$TEST_DIR/keys" deriveKey)" \
	"$(cryptsetup token export --token-id 0 "$TEST_DIR/t.img" | jq -r .jwe.protected |
		jose b64 dec -i- | jq -r .kid)"
tl regen -q -y -d "$TEST_DIR/t.img" -s 1
expect_ok "regen -y trusts them"
p=$(timeout $TB clevis luks pass -d "$TEST_DIR/t.img" -s 1)
check "... and clevis's pass of the result opens slot 1" opens_with t.img "$p" 1

# A header with every keyslot in use: bind has nowhere to go, and regen
# has no spare slot to verify a new binding in before it replaces one.
new_image full.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/full.img" -k - tang "$CFG"
expect_ok "bind an image that is about to be full"
for slot in $(seq 2 31); do
	printf '%s\n%s' "$PASS" "other $slot" | cryptsetup luksAddKey -q \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-slot "$slot" \
		"$TEST_DIR/full.img" - 2>/dev/null || break
done
check_eq "all 32 keyslots are in use" 32 \
	"$(cryptsetup luksDump --dump-json-metadata "$TEST_DIR/full.img" | jq '.keyslots | length')"
save_header full.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/full.img" -k - tang "$CFG"
expect_failed "bind with no free keyslot is refused" "$TEST_DIR/out" "no free keyslot"
unchanged "... and the header is unchanged" full.img
tl regen -q -y -d "$TEST_DIR/full.img" -s 1
expect_failed "regen with no spare keyslot is refused" "$TEST_DIR/out" "no free keyslot"
unchanged "... and the header is unchanged" full.img

# Interrupted: bind and regen killed (SIGKILL) at points spread over their
# run. Whatever was written by then, the passphrase opens the image and
# the binding that was there still unlocks it.
new_image cut.img
IN=$TEST_DIR/passfile tl bind -y -d "$TEST_DIR/cut.img" -k - tang "$CFG"
expect_ok "bind an image to interrupt later commands on"
survived=0
tried=0
for delay in 0.02 0.05 0.1 0.15 0.2 0.3 0.4 0.6; do
	for cmd in bind regen; do
		if [ "$cmd" = bind ]; then
			set -- bind -y -d "$TEST_DIR/cut.img" -k "$TEST_DIR/passfile" tang "$CFG"
		else
			set -- regen -q -d "$TEST_DIR/cut.img" -s 1
		fi
		timeout -s KILL "$delay" "$TETHER" luks "$@" >/dev/null 2>&1
		tried=$((tried + 1))
		if opens_with cut.img "$PASS" 0 &&
			"$TETHER" luks unlock -d "$TEST_DIR/cut.img" --test-passphrase \
				>/dev/null 2>&1; then
			survived=$((survived + 1))
		fi
	done
done
check_eq "after each of $tried interrupted runs, the passphrase and a binding still open the image" \
	"$tried" "$survived"

# --------------------------------------------- LUKS1, read through luksmeta
# (writing LUKS1 bindings: luks1.sh)
new_image l1.img luks1
check "clevis luks bind on LUKS1 (luksmeta)" sh -c "timeout $TB clevis luks bind -y \
	-d '$TEST_DIR/l1.img' -k - tang '$CFG' <'$TEST_DIR/passfile'"
check_eq "tether luks list reads it" "$(clevis luks list -d "$TEST_DIR/l1.img")" \
	"$("$TETHER" luks list -d "$TEST_DIR/l1.img")"
check "tether luks pass recovers a passphrase that opens slot 1" sh -c \
	"'$TETHER' luks pass -d '$TEST_DIR/l1.img' -s 1 | cryptsetup open \
	--test-passphrase --key-file - --key-slot 1 '$TEST_DIR/l1.img'"
tl unlock -d "$TEST_DIR/l1.img" --test-passphrase
expect_ok "tether luks unlock --test-passphrase opens it"

done_testing
