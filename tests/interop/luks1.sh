#!/usr/bin/env bash
# LUKS1 bindings live in luksmeta slots, as clevis keeps them: tether binds,
# unbinds, regenerates, edits and unlocks them, and each tool reads and
# removes what the other wrote. clevis's luksmeta-corruption cases hold:
# a binding too large for the metadata area is refused with nothing
# changed, and metadata an interrupted bind left beside an inactive
# keyslot does not block the next bind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"
CLEVIS_UUID=cb6e8904-81ff-40da-a84a-07ab9ab5715e

# header NAME, in place of luks-lib.sh's: the LUKS1 header, keyslot area
# and luksmeta's gap (the first 2 MiB).
header() { dd if="$TEST_DIR/$1" bs=1M count=2 status=none | sha256sum; }
unchanged() { check_eq "$1" "$(cat "$TEST_DIR/$2.before")" "$(header "$2")"; }
enabled() { # NAME: the keyslots in use, on one line
	cryptsetup luksDump "$TEST_DIR/$1" | sed -n 's/^Key Slot \([0-7]\): ENABLED$/\1/p' |
		tr '\n' ' ' | sed 's/ $//'
}
meta() { # NAME SLOT: luksmeta's "state uuid" for the slot
	luksmeta show -d "$TEST_DIR/$1" | awk -v s="$2" '$1 == s { print $2, $3 }'
}

start_servers_a_b
printf '%s\n' "$PASS" >"$TEST_DIR/line"

# --------------------------------------------- bind
new_image a.img luks1
save_header a.img
IN=$TEST_DIR/line tl bind -d "$TEST_DIR/a.img" tang "$CFG"
expect_failed "bind on a LUKS1 volume without luksmeta, no -f or -y and no terminal, is refused" \
	"$TEST_DIR/out" "-f"
unchanged "... and the header is unchanged" a.img
IN=$TEST_DIR/line tl bind -f -y -d "$TEST_DIR/a.img" tang "$CFG"
expect_ok "bind -f on LUKS1 sets up luksmeta and binds"
check_eq "... luksmeta slot 1 is active and clevis's" "active $CLEVIS_UUID" "$(meta a.img 1)"
check_eq "... keyslots 0 and 1 are enabled" "0 1" "$(enabled a.img)"
check_eq "clevis luks list reads tether's LUKS1 binding" "1: tang '$CFG'" \
	"$(timeout $TB clevis luks list -d "$TEST_DIR/a.img")"
check "clevis luks pass recovers a key that opens slot 1" pass_opens a.img 1 clevis
IN=$TEST_DIR/line tl bind -y -d "$TEST_DIR/a.img" -s 3 tang "$CFG_B"
expect_ok "a second binding in slot 3, luksmeta already set up"
check "... tether recovers it" pass_opens a.img 3
IN=$TEST_DIR/line tl bind -y -d "$TEST_DIR/a.img" -t 2 tang "$CFG"
expect_failed "-t on LUKS1 is refused" "$TEST_DIR/out" "no tokens"
tl bind -y -d "$TEST_DIR/a.img" -s 9 -k "$TEST_DIR/line" tang "$CFG"
expect_failed "a slot beyond LUKS1's eight is refused" "$TEST_DIR/out" "from 0 to 7"

# --------------------------------------------- unlock
tl unlock -d "$TEST_DIR/a.img" --test-passphrase
expect_ok "unlock --test-passphrase through a LUKS1 binding"
tl unlock -d "$TEST_DIR/a.img" -t 3
expect_ok "unlock -t 3 tests slot 3's binding"

# --------------------------------------------- each tool removes the other's
check "clevis luks unbind removes tether's LUKS1 binding" \
	timeout $TB clevis luks unbind -f -d "$TEST_DIR/a.img" -s 3
check_eq "... its luksmeta slot is empty" "inactive empty" "$(meta a.img 3)"
check "clevis binds slot 2" sh -c "timeout $TB clevis luks bind -y -s 2 \
	-d '$TEST_DIR/a.img' -k - tang '$CFG_B' <'$TEST_DIR/line'"
tl unbind -f -d "$TEST_DIR/a.img" -s 2
expect_ok "tether luks unbind removes clevis's LUKS1 binding"
check_eq "... its luksmeta slot is empty" "inactive empty" "$(meta a.img 2)"
check_eq "... and its keyslot is gone" "0 1" "$(enabled a.img)"
check_eq "clevis luks list shows the one binding left" "1: tang '$CFG'" \
	"$(timeout $TB clevis luks list -d "$TEST_DIR/a.img")"

# --------------------------------------------- regen and edit, in place
old_sig=$(key_thps "$TEST_DIR/keys" verify)
check "tetherd keys rotate" "$TETHERD" keys rotate --keys "$TEST_DIR/keys"
rotated() { ! adv_signing_thps "$URL_A" | grep -qF -- "$old_sig"; }
wait_for "" rotated
tl regen -q -d "$TEST_DIR/a.img" -s 1
expect_ok "regen of a LUKS1 binding after a rotation"
check_eq "... in place: the same keyslots, no spare left" "0 1" "$(enabled a.img)"
check_eq "... luksmeta slot 1 is clevis's" "active $CLEVIS_UUID" "$(meta a.img 1)"
check "... clevis recovers the new key, which opens slot 1" pass_opens a.img 1 clevis
tl report -d "$TEST_DIR/a.img" -s 1
expect_ok "... and report is clean"
tl edit -d "$TEST_DIR/a.img" -s 1 -c "$CFG_B"
expect_ok "edit of a LUKS1 binding to the other server"
check_eq "... clevis luks list shows it" "1: tang '$CFG_B'" \
	"$(timeout $TB clevis luks list -d "$TEST_DIR/a.img")"
check "... it opens slot 1" pass_opens a.img 1 clevis
check_eq "... with no spare left" "0 1" "$(enabled a.img)"

# --------------------------------------------- luksmeta's corruption cases
# Debris: clevis's metadata beside an inactive keyslot, as an interrupted
# bind leaves it. The next bind takes the slot over.
new_image d.img luks1
check "luksmeta init" luksmeta init -f -d "$TEST_DIR/d.img"
check "debris: clevis's metadata for inactive keyslot 1" sh -c \
	"echo foo | luksmeta save -d '$TEST_DIR/d.img' -s 1 -u $CLEVIS_UUID"
tl list -d "$TEST_DIR/d.img"
check_eq "list does not show the debris" "" "$(cat "$TEST_DIR/out")"
IN=$TEST_DIR/line tl bind -y -d "$TEST_DIR/d.img" tang "$CFG"
expect_ok "bind over the debris succeeds"
check_eq "... in slot 1" "active $CLEVIS_UUID" "$(meta d.img 1)"
check "... and clevis recovers it" pass_opens d.img 1 clevis

# Too large for the metadata area: an advertisement with many keys.
new_image big.img luks1
check "luksmeta init" luksmeta init -f -d "$TEST_DIR/big.img"
mkdir -m 0700 "$TEST_DIR/many"
# As clevis's own case: 55 pairs from tangd-keygen, some 110 keys.
for i in $(seq 1 55); do /usr/libexec/tangd-keygen "$TEST_DIR/many"; done
chown root:root "$TEST_DIR"/many/*.jwk && chmod 0600 "$TEST_DIR"/many/*.jwk
start_tetherd many "$TEST_DIR/many" || not_ok "tetherd with 110 keys starts"
check_eq "... and advertises its 55 signing keys" 55 "$(adv_signing_thps "$URL" | wc -l)"
save_header big.img
IN=$TEST_DIR/line tl bind -y -d "$TEST_DIR/big.img" tang "{\"url\":\"$URL\"}"
expect_failed "a binding too large for luksmeta's area is refused" "$TEST_DIR/out" "does not fit"
unchanged "... and the header and metadata are unchanged" big.img
check "... luksmeta's header is still valid" luksmeta test -d "$TEST_DIR/big.img"
check_eq "... and no keyslot was added" "0" "$(enabled big.img)"

done_testing
