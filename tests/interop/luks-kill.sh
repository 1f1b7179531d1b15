#!/usr/bin/env bash
# tether luks bind, unbind, regen and edit killed (SIGKILL) at each write(2) or
# fsync(2) they make, one run per call, each on a fresh copy of a bound
# image. Whatever
# the header holds then: the passphrase opens it, every clevis token's JWE
# opens the keyslot the token names, and some token
# does. The next command (luks report, or the same command again) finds
# what the run left, says so, and clears it: no keyslot that neither the
# passphrase nor a token accounts for, no token naming no keyslot, no
# pending token, no spare binding.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"

# Kills land on a chosen call through strace's fault injection: the same
# point every run, with no hook in tether.
if ! strace -f -qq -o /dev/null -e inject=write:signal=KILL:when=1000 \
	true 2>/dev/null; then
	echo "1..0 # SKIP strace cannot trace here (no ptrace)"
	exit 0
fi

mkdir -m 0700 "$TEST_DIR/keys"
start_tetherd a "$TEST_DIR/keys" ||
	{ not_ok "tetherd starts"; done_testing; exit 1; }
CFG="{\"url\":\"$URL\"}"
printf %s "$PASS" >"$TEST_DIR/passfile"

# census NAME: sets ORPHANS (keyslots neither the passphrase nor a token
# accounts for), STALE (clevis tokens whose JWE does not open the keyslot
# they name), DANGLING (clevis tokens naming no keyslot), PENDING
# (tether-pending tokens), BOUND and GOOD (clevis tokens, and those whose
# JWE opens their keyslot).
# recover JWE: its plaintext, through the server; tried twice, so that a
# server busy for a moment is not taken for a stale token.
recover() {
	printf %s "$1" | timeout "$TB" "$TETHER" decrypt 2>/dev/null ||
		printf %s "$1" | timeout "$TB" "$TETHER" decrypt 2>/dev/null
}

census() {
	local img=$TEST_DIR/$1 meta kind id type slot jwe key
	ORPHANS=0 STALE=0 DANGLING=0 PENDING=0 BOUND=0 GOOD=0
	# One jq a census: each is slow on a loaded machine.
	meta=$(cryptsetup luksDump --dump-json-metadata "$img" | jq -r '
		.tokens as $t
		| (.keyslots | keys[] | . as $s
		   | "slot \($s) \([$t[] | select(any(.keyslots[]; . == $s))]
		     | length)"),
		  ($t | to_entries[] | "token \(.key) \(.value.type)" +
		   " \(.value.keyslots[0] // "-") \(.value.jwe // {} |
		   [.protected, .encrypted_key // "", .iv, .ciphertext, .tag]
		   | join("."))")') || { ORPHANS=unreadable; return; }
	while read -r kind id type slot jwe; do
		if [ "$kind" = slot ]; then
			[ "$type" -eq 0 ] && ! opens_with "$1" "$PASS" "$id" &&
				ORPHANS=$((ORPHANS + 1))
		elif [ "$type" = tether-pending ]; then
			PENDING=$((PENDING + 1))
		elif [ "$type" != clevis ]; then
			:
		elif [ "$slot" = - ]; then
			DANGLING=$((DANGLING + 1))
		elif BOUND=$((BOUND + 1)) && key=$(recover "$jwe") &&
			opens_with "$1" "$key" "$slot"; then
			GOOD=$((GOOD + 1))
		else
			STALE=$((STALE + 1))
		fi
	done <<<"$meta"
}

# tether luks ARGS killed as it enters its K-th call of SYSCALL.
kill_at() { # SYSCALL K ARGS...
	local call=$1 k=$2
	shift 2
	# In a subshell: bash reports a job killed by a signal.
	(timeout -s KILL "$TB" strace -f -qq -o /dev/null -e signal=none \
		-e inject="$call":signal=KILL:when="$k" \
		"$TETHER" luks "$@" >/dev/null 2>&1; true) 2>/dev/null
}

calls_of() { # SYSCALL ARGS...: how many an uninterrupted run makes
	local call=$1
	shift
	strace -f -qq -o "$TEST_DIR/trace" -e trace="$call" -e signal=none \
		"$TETHER" luks "$@" >/dev/null 2>&1
	grep -c "$call(" "$TEST_DIR/trace"
}

new_image base.img
for slot in 1 2; do
	tl bind -y -d "$TEST_DIR/base.img" -k "$TEST_DIR/passfile" -s "$slot" \
		tang "$CFG"
	expect_ok "bind slot $slot of the image every run starts from"
done

# run_kills NAME SYSCALL STEP MAX_AFTER_REPORT MAX_AFTER_AGAIN ARGS...:
# tether luks ARGS (on cut.img) killed at its first call of SYSCALL and
# every STEP-th one after. After the
# kill, the image is as described above; after the next command (odd kill
# points: report -s 2, which the commands leave alone; even: ARGS again),
# nothing is left and at most MAX_AFTER_* bindings are.
run_kills() {
	local name=$1 call=$2 step=$3 max_report=$4 max_again=$5 k n next max
	local bad="" left=0 cleared=0 unsaid=0 total_orphans=0 total_stale=0
	local total_spare=0 total_debris=0 tried=0
	shift 5
	cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/cut.img"
	n=$(calls_of "$call" "$@")
	for k in $(seq 1 "$step" "$n"); do
		tried=$((tried + 1))
		cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/cut.img"
		kill_at "$call" "$k" "$@"
		census cut.img
		if [ "$ORPHANS" = unreadable ] || ! opens_with cut.img "$PASS" 0 ||
			[ "$STALE" -ne 0 ] || [ "$GOOD" -lt 1 ]; then
			bad="$bad; killed at $call $k: passphrase $(opens_with cut.img \
				"$PASS" 0 && echo opens || echo FAILS), $STALE stale, $GOOD good"
		fi
		total_stale=$((total_stale + STALE))
		left=$((ORPHANS + DANGLING + PENDING))
		if [ $((k % 2)) -eq 1 ]; then
			next="report -q -d $TEST_DIR/cut.img -s 2"
			max=$max_report
			tl report -q -d "$TEST_DIR/cut.img" -s 2
		else
			next="$*"
			max=$max_again
			tl "$@"
		fi
		if [ "$left" -gt 0 ] && ! grep -q interrupted "$TEST_DIR/err"; then
			unsaid=$((unsaid + 1))
		fi
		census cut.img
		total_orphans=$((total_orphans + ORPHANS))
		total_debris=$((total_debris + DANGLING + PENDING))
		[ "$BOUND" -gt "$max" ] && total_spare=$((total_spare + BOUND - max))
		if [ "$ORPHANS" = unreadable ] || [ "$ORPHANS" -ne 0 ] ||
			[ "$STALE" -ne 0 ] || [ "$DANGLING" -ne 0 ] ||
			[ "$PENDING" -ne 0 ] || [ "$BOUND" -gt "$max" ] ||
			[ "$GOOD" -lt 1 ] || ! opens_with cut.img "$PASS" 0; then
			bad="$bad; killed at $call $k, then $next: $ORPHANS orphan \
keyslots, $STALE stale, $DANGLING dangling, $PENDING pending tokens, \
$BOUND bindings (at most $max)"
		fi
		[ "$left" -gt 0 ] && cleared=$((cleared + 1))
	done
	echo "# $name: killed at $tried of its $n ${call}s; $cleared runs left something;" \
		"after the next command: $total_orphans orphan keyslots," \
		"$total_debris dangling or pending tokens, $total_spare spare" \
		"bindings; $total_stale stale tokens right after the kills"
	if [ -z "$bad" ]; then
		ok "$name killed at $tried of its $n ${call}s: nothing stale, and nothing left after the next command"
	else
		not_ok "$name killed at $tried of its $n ${call}s: nothing stale, and nothing left after the next command" \
			"$(echo "${bad#; }" | tr ';' '\n' | head -20)"
	fi
	check_eq "... and the next command said what it cleared each time" 0 "$unsaid"
}

# bind and unbind at every write, which includes the torn states of each
# header copy; regen, which makes ten header updates, at every fsync (the
# end of each copy); edit, which makes the same ones through the same
# code, at every third: all within the test's time.
run_kills bind write 1 3 4 bind -y -d "$TEST_DIR/cut.img" \
	-k "$TEST_DIR/passfile" tang "$CFG"
run_kills unbind write 1 2 1 unbind -f -d "$TEST_DIR/cut.img" -s 1
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
