#!/usr/bin/env bash
# tether luks takes clevis luks's arguments: bind -f, -e and a passphrase
# line on standard input, unlock -t, edit, regen asking for the passphrase
# once the old binding no longer recovers; --help describes each option,
# and the first errors a new user meets say what is wrong.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"

unchanged() { # DESCRIPTION NAME
	check_eq "$1" "$(cat "$TEST_DIR/$2.before")" "$(header "$2")"
}
keyslots() { # NAME: the keyslots in use, as a JSON list
	cryptsetup luksDump --dump-json-metadata "$TEST_DIR/$1" | jq -c '.keyslots | keys'
}

start_servers_a_b

# --------------------------------------------- bind: how the passphrase comes
new_image a.img
printf '%s\nnot the passphrase\n' "$PASS" >"$TEST_DIR/lines"
IN=$TEST_DIR/lines tl bind -f -y -d "$TEST_DIR/a.img" tang "$CFG"
expect_ok "bind -f with no -k reads the passphrase as clevis does: one line of stdin"
check "... and the binding opens slot 1" pass_opens a.img 1
IN=$TEST_DIR/lines tl bind -y -d "$TEST_DIR/a.img" -s 3 -k - tang "$CFG"
expect_ok "bind -k - reads one line of standard input, as clevis does"
check "... and the binding opens slot 3" pass_opens a.img 3
tl bind -y -d "$TEST_DIR/a.img" -s 4 -e 0 tang "$CFG_B"
expect_ok "bind -e TOKEN takes the passphrase from a clevis token"
check "... and the new binding, to the other server, opens slot 4" pass_opens a.img 4
save_header a.img
printf 'wrong\n' >"$TEST_DIR/wrong"
new_image w.img
save_header w.img
IN=$TEST_DIR/wrong tl bind -y -d "$TEST_DIR/w.img" tang "$CFG"
expect_failed "a wrong passphrase line is refused" "$TEST_DIR/out" "does not open"
unchanged "... and the header is unchanged" w.img
tl bind -y -d "$TEST_DIR/w.img" -e 0 tang "$CFG"
expect_failed "-e naming no token is refused" "$TEST_DIR/out" "no token 0"
tl bind -y -d "$TEST_DIR/w.img" -k "$TEST_DIR/wrong" -e 0 tang "$CFG"
expect_failed "-k and -e together are refused" "$TEST_DIR/out" "give one"

# The kernel keyring is the one host feature this needs; each run gets a
# session keyring of its own, so nothing is left in the host's.
desc="tether-test-$$"
if command -v keyctl >/dev/null && keyctl session - true 2>/dev/null; then
	check "a luks2-keyring token names the passphrase" sh -c \
		"printf '{\"type\":\"luks2-keyring\",\"keyslots\":[\"0\"],\"key_description\":\"$desc\"}' |
		cryptsetup token import --token-id 9 '$TEST_DIR/w.img'"
	check "bind -e TOKEN reads a luks2-keyring token's key from the kernel keyring" \
		keyctl session - sh -c "keyctl add user '$desc' '$PASS' @s >/dev/null &&
		exec '$TETHER' luks bind -y -d '$TEST_DIR/w.img' -e 9 tang '$CFG'"
	check "... and the binding opens slot 1" pass_opens w.img 1
	tl bind -y -d "$TEST_DIR/w.img" -e 9 tang "$CFG"
	expect_failed "... a key not in the keyring is said to be missing" "$TEST_DIR/out" "not in the kernel keyring"
else
	skip "a luks2-keyring token names the passphrase" "no kernel keyring here"
	skip "bind -e with a luks2-keyring token" "no kernel keyring here"
	skip "... and the binding opens slot 1" "no kernel keyring here"
	skip "... a key not in the keyring" "no kernel keyring here"
fi

# --------------------------------------------- unlock -t SLOT
tl unlock -d "$TEST_DIR/a.img" -t 3
expect_ok "unlock -t SLOT tests the binding of a slot"
check_eq "... and prints nothing" "" "$(cat "$TEST_DIR/out")"
tl unlock -d "$TEST_DIR/a.img" -t 0
expect_failed "unlock -t of a slot with no binding fails" "$TEST_DIR/out" "no clevis binding in slot 0"
stop_pid "$A_PID"
tl unlock -d "$TEST_DIR/a.img" -t 1
expect_failed "unlock -t of a slot whose server is down fails" "$TEST_DIR/out" "test for token slot 1"
tl unlock -d "$TEST_DIR/a.img" -t 4
expect_ok "... while the slot bound to the other server passes"
WANT_PORT=${URL_A##*:} start_tetherd a "$TEST_DIR/keys" || not_ok "tetherd a starts again"
A_PID=$a_PID

# Unlocking for real needs device-mapper: either it maps, or says so.
tl unlock -d "$TEST_DIR/a.img" -n "tether-cli-$$"
if [ "$RC" -eq 0 ]; then
	check "unlock maps the volume" test -e "/dev/mapper/tether-cli-$$"
	cryptsetup close "tether-cli-$$"
else
	expect_failed "unlock without device-mapper says so" "$TEST_DIR/out" "device-mapper is not available"
fi

# --------------------------------------------- edit
before=$(keyslots a.img)
tl edit -d "$TEST_DIR/a.img" -s 1 -c "$CFG_B"
expect_ok "edit -c binds the slot to the new configuration"
check_eq "... luks list shows it" "1: tang '$CFG_B'" \
	"$("$TETHER" luks list -d "$TEST_DIR/a.img" -s 1)"
check_eq "... clevis luks list agrees" "1: tang '$CFG_B'" \
	"$(timeout $TB clevis luks list -d "$TEST_DIR/a.img" -s 1)"
check "... the new binding opens slot 1" pass_opens a.img 1
check_eq "... and no spare keyslot is left" "$before" "$(keyslots a.img)"
save_header a.img
tl edit -d "$TEST_DIR/a.img" -s 1 -c "{ \"url\" : \"$URL_B\" }"
expect_failed "edit to the same configuration is refused" "$TEST_DIR/out" "no changes"
unchanged "... and the header is unchanged" a.img
"$TETHER" luks pass -d "$TEST_DIR/a.img" -s 1 >"$TEST_DIR/old-key"
tl edit -f -d "$TEST_DIR/a.img" -s 1 -c "$CFG_B"
expect_ok "edit -f binds again even so"
"$TETHER" luks pass -d "$TEST_DIR/a.img" -s 1 >"$TEST_DIR/new-key"
check "... with a new key" sh -c "! cmp -s '$TEST_DIR/old-key' '$TEST_DIR/new-key'"
check "... that opens slot 1" pass_opens a.img 1
save_header a.img
tl edit -d "$TEST_DIR/a.img" -s 1
expect_failed "edit with no -c and no terminal is refused" "$TEST_DIR/out" "-c"
tl edit -d "$TEST_DIR/a.img" -s 1 -c '["not an object"]'
expect_failed "edit to a configuration that is not an object is refused" "$TEST_DIR/out" "JSON object"
tl edit -d "$TEST_DIR/a.img" -s 1 -c "{\"url\":\"http://127.0.0.1:$(free_port)\"}"
check_eq "edit to a server that is down prints only its progress" "Updating binding..." \
	"$(cat "$TEST_DIR/out")"
: >"$TEST_DIR/out"
expect_failed "edit to a server that is down is refused" "$TEST_DIR/out" "127\.0\.0\.1"
unchanged "... and the header is unchanged" a.img

# --------------------------------------------- regen without the old key
new_image r.img
IN=$TEST_DIR/lines tl bind -y -d "$TEST_DIR/r.img" tang "$CFG"
expect_ok "bind r.img"
rm -f "$TEST_DIR"/keys/*.jwk "$TEST_DIR"/keys/.*.jwk
"$TETHERD" keys create --keys "$TEST_DIR/keys" >/dev/null
kill -HUP "$A_PID"
old_gone() { ! "$TETHER" luks unlock -d "$TEST_DIR/r.img" -t 1 2>/dev/null; }
wait_for "" old_gone
check "the server's old keys are gone: the binding no longer recovers" old_gone
before=$(keyslots r.img)
save_header r.img
tl regen -q -d "$TEST_DIR/r.img" -s 1
expect_failed "regen with no way to the old key and no passphrase fails" "$TEST_DIR/out" "passphrase"
unchanged "... and the header is unchanged" r.img
IN=$TEST_DIR/lines tl regen -q -d "$TEST_DIR/r.img" -s 1
expect_ok "regen reads the passphrase from stdin when the old binding cannot recover"
check "... and the new binding opens slot 1" pass_opens r.img 1
check_eq "... in the same keyslot, with no spare left" "$before" "$(keyslots r.img)"
check "... and the passphrase still opens slot 0" opens_with r.img "$PASS" 0

# --------------------------------------------- help and first errors
for sub in bind unbind list pass trust unlock edit regen report; do
	out=$("$TETHER" luks "$sub" --help)
	usage=$(echo "$out" | head -n 1)
	missing=""
	for opt in $(echo "$usage" | grep -oE -- '-[a-zA-Z]( |\]|$)|--[a-z-]+' | tr -d ' ]'); do
		echo "$out" | tail -n +2 | grep -qE -- "^ +$opt( |$)" || missing="$missing $opt"
	done
	check_eq "luks $sub --help describes each of its options" "" "$missing"
done
check "tether luks --help lists trust and edit" sh -c \
	"'$TETHER' luks --help | grep -q 'luks trust' && '$TETHER' luks --help | grep -q 'luks edit'"
tl list -d "$TEST_DIR/no/such/file"
expect_failed "list of a missing file says it does not exist" "$TEST_DIR/out" "no such file"
check "... not 'Block device required'" sh -c "! grep -qi 'block device' '$TEST_DIR/err'"
tl bind -d "$TEST_DIR/a.img" -s 40 tang "$CFG"
expect_failed "a slot beyond the volume's keyslots is refused" "$TEST_DIR/out" "from 0 to 31"

# A token anyone who can write the disk may write: its URL holds an escape
# sequence and a line break, which luks trust shows escaped.
new_image e.img
jose jwk gen -i '{"alg":"A256GCM"}' -o "$TEST_DIR/e.key"
hdr='{"alg":"dir","enc":"A256GCM","clevis":{"pin":"tang","tang":{"url":"http://x\u001b[2J\n7: https://y","adv":{"keys":[]}}}}'
check "a clevis token whose URL holds an escape sequence and a line break" sh -c \
	"printf secret | jose jwe enc -i '{\"protected\":$hdr}' -k '$TEST_DIR/e.key' -I- -o '$TEST_DIR/e.jwe' &&
	jq -c '{type: \"clevis\", keyslots: [\"0\"], jwe: .}' '$TEST_DIR/e.jwe' |
	cryptsetup token import '$TEST_DIR/e.img'"
tl trust -d "$TEST_DIR/e.img"
check_eq "luks trust shows it escaped, on one line" \
	'0: http://x\x1b[2J\x0a7: https://y none' "$(cat "$TEST_DIR/out")"

done_testing
