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

# ------------------------------------------------ kill tests (luks-kill.sh)
# strace's fault injection kills tether at a chosen system call: the same
# point every run, with no hook in tether.

need_strace() { # ends the test with a TAP skip where strace cannot trace
	if ! strace -f -qq -o /dev/null -e inject=write:signal=KILL:when=1000 \
		true 2>/dev/null; then
		echo "1..0 # SKIP strace cannot trace here (no ptrace)"
		exit 0
	fi
}

# recover JWE: sets KEY to its plaintext, through the server; tried
# twice, so that a server busy for a moment is not taken for a stale
# token. Remembered: a JWE always decrypts to the same key, and most of a
# census's are the base image's.
declare -A RECOVERED
recover() {
	if [ -n "${RECOVERED[$1]+set}" ]; then
		KEY=${RECOVERED[$1]}
		return 0
	fi
	KEY=$(printf %s "$1" | timeout "$TB" "$TETHER" decrypt 2>/dev/null ||
		printf %s "$1" | timeout "$TB" "$TETHER" decrypt 2>/dev/null) ||
		return 1
	RECOVERED[$1]=$KEY
}

# census_luks1 NAME: census's counts on LUKS1, from clevis's luksmeta
# slots (DANGLING: clevis data beside an inactive keyslot).
census_luks1() {
	local slot state uuid
	ORPHANS=0 STALE=0 DANGLING=0 PENDING=0 BOUND=0 GOOD=0
	while read -r slot state uuid; do
		# luksmeta's wipe zeroes the data before its header forgets
		# the slot: zeroes are no binding, to clevis or tether.
		if [ "$uuid" = "$CLEVIS_UUID" ] && [ "$(luksmeta load \
			-d "$TEST_DIR/$1" -s "$slot" | tr -d '\0' | wc -c)" -eq 0 ]; then
			uuid=wiped
		fi
		if [ "$state" = active ] && [ "$uuid" = "$CLEVIS_UUID" ]; then
			BOUND=$((BOUND + 1))
			if recover "$(luksmeta load -d "$TEST_DIR/$1" -s "$slot")" &&
				opens_with "$1" "$KEY" "$slot"; then
				GOOD=$((GOOD + 1))
			else
				STALE=$((STALE + 1))
			fi
		elif [ "$state" = active ]; then
			opens_with "$1" "$PASS" "$slot" || ORPHANS=$((ORPHANS + 1))
		elif [ "$uuid" = "$CLEVIS_UUID" ]; then
			DANGLING=$((DANGLING + 1))
		fi
	done < <(luksmeta show -d "$TEST_DIR/$1")
}
CLEVIS_UUID=cb6e8904-81ff-40da-a84a-07ab9ab5715e

# census NAME: sets ORPHANS (keyslots neither the passphrase nor a token
# accounts for), STALE (clevis tokens whose JWE does not open the keyslot
# they name), DANGLING (clevis tokens naming no keyslot), PENDING
# (tether-pending tokens), BOUND and GOOD (clevis tokens, and those whose
# JWE opens their keyslot).
census() {
	local img=$TEST_DIR/$1 meta kind id type slot jwe
	if cryptsetup isLuks --type luks1 "$img"; then
		census_luks1 "$1"
		return
	fi
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
		elif BOUND=$((BOUND + 1)) && recover "$jwe" &&
			opens_with "$1" "$KEY" "$slot"; then
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


# kill_setup TYPE [BIND_ARGS...]: a kill test's tetherd (sets CFG), and
# its base image (bound_base).
kill_setup() {
	need_strace
	mkdir -m 0700 "$TEST_DIR/keys"
	start_tetherd a "$TEST_DIR/keys" ||
		{ not_ok "tetherd starts"; done_testing; exit 1; }
	CFG="{\"url\":\"$URL\"}"
	printf %s "$PASS" >"$TEST_DIR/passfile"
	bound_base "$@"
}

# bound_base TYPE [BIND_ARGS...]: base.img, every kill run's start: its
# keyslot 0 holds $PASS, slots 1 and 2 are bound to $CFG.
bound_base() {
	local type=$1 slot
	shift
	new_image base.img "$type"
	for slot in 1 2; do
		tl bind -y "$@" -d "$TEST_DIR/base.img" -k "$TEST_DIR/passfile" \
			-s "$slot" tang "$CFG"
		expect_ok "bind slot $slot of the $type image every run starts from"
	done
}

# run_kills NAME SYSCALL STEP MAX_AFTER_REPORT MAX_AFTER_AGAIN ARGS...:
# tether luks ARGS (on cut.img) killed at its first call of SYSCALL and
# every STEP-th one after. After the
# kill, the image is as described above; after the next command (odd kill
# points: report -s 2, which the commands leave alone; even: ARGS again),
# nothing is left and at most MAX_AFTER_* bindings are.
run_kills() {
	local name=$1 call=$2 step=$3 max_report=$4 max_again=$5 k n next max
	local bad="" left=0 cleared=0 unsaid=0 total_orphans=0 total_stale=0
	local total_spare=0 total_debris=0 tried=0 total_stale_after=0 what
	shift 5
	cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/cut.img"
	n=$(calls_of "$call" "$@")
	for k in $(seq 1 "$step" "$n"); do
		tried=$((tried + 1))
		cp --sparse=always "$TEST_DIR/base.img" "$TEST_DIR/cut.img"
		kill_at "$call" "$k" "$@"
		census cut.img
		if [ "$ORPHANS" = unreadable ] || ! opens_with cut.img "$PASS" 0 ||
			[ "$STALE" -ne 0 ] ||
			[ "$GOOD" -lt 1 ]; then
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
		total_stale_after=$((total_stale_after + STALE))
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
		"bindings, $total_stale_after stale tokens; $total_stale stale" \
		"tokens right after the kills"
	what="nothing stale, and nothing left after the next command"
	if [ -z "$bad" ]; then
		ok "$name killed at $tried of its $n ${call}s: $what"
	else
		not_ok "$name killed at $tried of its $n ${call}s: $what" \
			"$(echo "${bad#; }" | tr ';' '\n' | head -20)"
	fi
	check_eq "... and the next command said what it cleared each time" 0 "$unsaid"
}
