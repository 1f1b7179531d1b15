#!/usr/bin/env bash
# luks-kill.sh's kills on a LUKS1 image: bind and unbind at each write(2),
# regen at each fsync(2) and every other write(2). Whatever the header
# holds after a kill, the passphrase opens it, a binding does and no
# binding names a keyslot it does not open; after the next command no
# keyslot is left that neither the passphrase nor a binding accounts for,
# no spare binding and no clevis luksmeta data beside an inactive keyslot
# (tether's records in luksmeta mark the work, see tether(1)).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"

kill_setup luks1 -f

run_kills bind write 1 3 4 bind -y -d "$TEST_DIR/cut.img" \
	-k "$TEST_DIR/passfile" tang "$CFG"
run_kills unbind write 1 2 1 unbind -f -d "$TEST_DIR/cut.img" -s 1
run_kills regen fsync 1 2 2 regen -q -d "$TEST_DIR/cut.img" -s 1
run_kills regen write 2 2 2 regen -q -d "$TEST_DIR/cut.img" -s 1

# The records themselves: only the keyslot a record names goes, known by
# its salt (a removal) or its JWE's hash (a spare).
RECORD_UUID=71e54aa6-d293-47b8-b7e0-50e9868e7432
salt_of() { # NAME SLOT: the keyslot's salt in the LUKS1 header, as hex
	od -An -tx1 -j $((208 + 48 * $2 + 8)) -N 32 "$TEST_DIR/$1" | tr -d ' \n'
}
record() { # NAME TEXT: TEXT saved as tether's record in luksmeta slot 7
	printf %s "$2" | luksmeta save -d "$TEST_DIR/$1" -s 7 -u "$RECORD_UUID"
}
active() { # NAME SLOT
	luksmeta show -d "$TEST_DIR/$1" | grep -q "^$2 *active"
}
no_record() { # NAME
	! luksmeta show -d "$TEST_DIR/$1" | grep -q "$RECORD_UUID"
}
cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/rec.img"
record rec.img "{\"removing\":1,\"salt\":\"$(salt_of rec.img 1)\"}"
tl report -q -d "$TEST_DIR/rec.img" -s 2
check "a removal record naming keyslot 1 by its salt: the next command removes it" \
	sh -c "! luksmeta show -d '$TEST_DIR/rec.img' | grep -q '^1 *active'"
check "... says so" grep -q 'interrupted command.s removal for keyslot 1' "$TEST_DIR/err"
check "... and wipes the record" no_record rec.img
cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/rec.img"
record rec.img "{\"removing\":1,\"salt\":\"$(printf '%064d' 0)\"}"
tl report -q -d "$TEST_DIR/rec.img" -s 2
check "a removal record whose salt keyslot 1 no longer has: keyslot 1 stays" active rec.img 1
check "... bound and opening" pass_opens rec.img 1
check "... and the record is wiped" no_record rec.img
cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/rec.img"
jwe2=$(luksmeta load -d "$TEST_DIR/rec.img" -s 2)
record rec.img "{\"for\":1,\"jwe\":\"$(printf %s "$jwe2" | sha256sum | cut -c1-64)\",\"spare\":2}"
tl report -q -d "$TEST_DIR/rec.img" -s 1
check "a spare record naming keyslot 2 by its JWE, slot 1 bound: keyslot 2 goes" \
	sh -c "! luksmeta show -d '$TEST_DIR/rec.img' | grep -q '^2 *active'"
check "... and slot 1 stays bound" pass_opens rec.img 1
cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/rec.img"
record rec.img "{\"for\":1,\"jwe\":\"$(printf '%064d' 0)\",\"spare\":2}"
tl report -q -d "$TEST_DIR/rec.img" -s 1
check "a spare record whose hash keyslot 2's binding does not have: keyslot 2 stays" \
	pass_opens rec.img 2
check "... and the record is wiped" no_record rec.img

done_testing
