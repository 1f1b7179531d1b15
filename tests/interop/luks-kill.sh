#!/usr/bin/env bash
# tether luks bind, unbind, regen and edit killed (SIGKILL) at each
# write(2) or fsync(2) they make, one run per call, each on a fresh copy of
# a bound LUKS2 image. Whatever the header holds then: the passphrase opens
# it, every clevis token's JWE opens the keyslot the token names, and some
# token does. The next command (luks report, or the same command again) finds
# what the run left, says so, and clears it: no keyslot that neither the
# passphrase nor a token accounts for, no token naming no keyslot, no
# pending token, no spare binding.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"

kill_setup luks2

# bind at every write, which includes the torn states of each header
# copy (libcryptsetup reads the other one); unbind and regen at every
# fsync, the end of each copy; edit, which makes regen's header writes
# through the same code, at every third: all within the test's time.
run_kills bind write 1 3 4 bind -y -d "$TEST_DIR/cut.img" \
	-k "$TEST_DIR/passfile" tang "$CFG"
run_kills unbind fsync 1 2 1 unbind -f -d "$TEST_DIR/cut.img" -s 1
run_kills regen fsync 1 2 2 regen -q -d "$TEST_DIR/cut.img" -s 1
run_kills edit fsync 3 2 2 edit -f -d "$TEST_DIR/cut.img" -s 1 -c "$CFG"

# What Debian's clevis and luks list make of the states a kill leaves: bind
# stopped with its keyslot added and its token still pending, regen
# stopped with its spare binding in place.
stop_at() { # WHAT SYSCALL ARGS...: kills ARGS at the first call that
	local what=$1 call=$2 k          # leaves WHAT (a census condition)
	shift 2
	for k in $(seq 1 40); do
		cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/cut.img"
		kill_at "$call" "$k" "$@"
		census cut.img
		eval "$what" && return 0
	done
	return 1
}
if stop_at '[ "$PENDING" -eq 1 ] && [ "$ORPHANS" -eq 1 ]' fsync bind -y \
	-d "$TEST_DIR/cut.img" -k "$TEST_DIR/passfile" tang "$CFG"; then
	ok "bind killed with its keyslot added and its token pending"
	save_header cut.img
	check_eq "clevis luks list shows the two bindings, not the pending one" \
		"$(clevis luks list -d "$TEST_DIR/base.img")" \
		"$(clevis luks list -d "$TEST_DIR/cut.img")"
	tl list -d "$TEST_DIR/cut.img"
	check_eq "tether luks list shows them too" \
		"$(clevis luks list -d "$TEST_DIR/base.img")" "$(cat "$TEST_DIR/out")"
	check "... says what an interrupted command left" \
		grep -q "interrupted command's, pending for keyslot 3" "$TEST_DIR/err"
	check_eq "... and changes nothing" "$(cat "$TEST_DIR/cut.img.before")" \
		"$(header cut.img)"
	check "clevis luks pass recovers slot 1's key, which opens the image" \
		sh -c "timeout $TB clevis luks pass -d '$TEST_DIR/cut.img' -s 1 |
		cryptsetup open --test-passphrase --key-file - '$TEST_DIR/cut.img'"
else
	not_ok "bind killed with its keyslot added and its token pending"
fi
if stop_at '[ "$BOUND" -eq 3 ]' fsync regen -q -d "$TEST_DIR/cut.img" -s 1
then
	ok "regen killed with its spare binding in place"
	spare=$(cryptsetup luksDump --dump-json-metadata "$TEST_DIR/cut.img" |
		jq -r '.tokens[] | select(has("tether-spare-for")) | .keyslots[0]')
	check "clevis luks pass recovers the spare's key, which opens its slot" \
		sh -c "timeout $TB clevis luks pass -d '$TEST_DIR/cut.img' -s '$spare' |
		cryptsetup open --test-passphrase --key-file - --key-slot '$spare' \
		'$TEST_DIR/cut.img'"
	tl report -q -d "$TEST_DIR/cut.img" -s 2
	check "luks report removes the spare and says so" \
		grep -q "spare binding an interrupted regen or edit of slot 1" \
		"$TEST_DIR/err"
	check_eq "... and clevis luks list shows the two bindings" \
		"$(clevis luks list -d "$TEST_DIR/base.img")" \
		"$(clevis luks list -d "$TEST_DIR/cut.img")"
else
	not_ok "regen killed with its spare binding in place"
fi

done_testing
