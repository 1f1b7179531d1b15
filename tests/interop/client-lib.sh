# shellcheck shell=bash
# Helpers for the tests that drive the tether client: bounded runs and the
# checks on what a run wrote. Sourced after lib.sh.

: "${TETHER:?TETHER must name the tether binary}"

# Every tether or clevis run is bounded: a hang becomes a failure (124).
TBOUND=60

# trun IN OUT ARGS...: runs tether with stdin IN and stdout OUT; sets RC,
# and ERR (its stderr, also in $TEST_DIR/err).
trun() {
	local in=$1 out=$2
	shift 2
	RC=0
	timeout "$TBOUND" "$TETHER" "$@" <"$in" >"$out" 2>"$TEST_DIR/err" || RC=$?
	ERR=$(cat "$TEST_DIR/err")
}

expect_ok() { # DESCRIPTION: the last trun succeeded
	if [ "$RC" -eq 0 ]; then
		ok "$1"
	else
		not_ok "$1" "exit status $RC" "stderr: $ERR"
	fi
}

# expect_failed DESCRIPTION OUT REGEX [LINES]: the last trun failed, wrote
# nothing to OUT, every stderr line is prefixed "tether: " and one matches
# REGEX; with LINES=1, stderr is exactly one line.
expect_failed() {
	local why=""
	if [ "$RC" -eq 0 ]; then
		why="exit status 0"
	elif [ "$RC" -eq 124 ]; then
		why="tether hung (killed by timeout)"
	fi
	if [ -s "$2" ]; then
		why="${why:+$why; }stdout is not empty ($(wc -c <"$2") bytes)"
	fi
	if [ ! -s "$TEST_DIR/err" ] || grep -qv '^tether: ' "$TEST_DIR/err"; then
		why="${why:+$why; }a stderr line is not prefixed 'tether: '"
	fi
	if [ "${4:-}" = 1 ] && [ "$(grep -c '' "$TEST_DIR/err")" -ne 1 ]; then
		why="${why:+$why; }stderr is not exactly one line"
	fi
	if ! grep -Eq -- "$3" "$TEST_DIR/err"; then
		why="${why:+$why; }stderr does not match /$3/"
	fi
	if [ -z "$why" ]; then
		ok "$1"
	else
		not_ok "$1" "$why" "stderr: $ERR"
	fi
}

# recovers DESCRIPTION TOOL JWE: TOOL (tether or clevis) decrypts JWE to
# exactly the plaintext.
recovers() {
	local desc=$1 tool=$2 jwe=$3 out=$TEST_DIR/recovered rc=0
	rm -f "$out"
	if [ "$tool" = tether ]; then
		timeout "$TBOUND" "$TETHER" decrypt <"$jwe" >"$out" \
			2>"$TEST_DIR/err" || rc=$?
	else
		timeout "$TBOUND" clevis decrypt <"$jwe" >"$out" \
			2>"$TEST_DIR/err" || rc=$?
	fi
	if [ "$rc" -ne 0 ]; then
		not_ok "$desc" "$tool decrypt: exit status $rc" \
			"stderr: $(head -c 1000 "$TEST_DIR/err")"
	elif ! cmp -s "$out" "$PLAIN"; then
		not_ok "$desc" "$tool decrypt succeeded but the output differs" \
			"($(wc -c <"$out") bytes, $(wc -c <"$PLAIN") expected)"
	else
		ok "$desc"
	fi
}

# clevis_fails DESCRIPTION JWE: clevis decrypt fails and writes nothing.
clevis_fails() {
	local rc=0 out=$TEST_DIR/clevis.out
	timeout "$TBOUND" clevis decrypt <"$2" >"$out" 2>"$TEST_DIR/err" || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ ! -s "$out" ]; then
		ok "$1"
	else
		not_ok "$1" "clevis decrypt: exit status $rc, $(wc -c <"$out") bytes out"
	fi
}

# clevis_encrypt DESCRIPTION PIN CONFIG OUT
clevis_encrypt() {
	local rc=0
	timeout "$TBOUND" clevis encrypt "$2" "$3" <"$PLAIN" >"$4" \
		2>"$TEST_DIR/err" || rc=$?
	if [ "$rc" -eq 0 ] && [ -s "$4" ]; then
		ok "$1"
	else
		not_ok "$1" "clevis encrypt: exit status $rc" \
			"stderr: $(head -c 1000 "$TEST_DIR/err")"
	fi
}

# expect_refused DESCRIPTION OUT REGEX: expect_failed, with the reason in
# exactly one line.
expect_refused() {
	expect_failed "$1" "$2" "$3" 1
}

# listen_socat NAME ADDRESS: socat on a free 127.0.0.1 port relaying each
# connection to ADDRESS, in its own session so that the per-connection
# children stop with it; tried again on another port if a concurrent test
# takes the port first. Sets URL and NAME_PID.
socat_groups=()
trap 'for g in "${socat_groups[@]}"; do kill -- "-$g" 2>/dev/null; done; cleanup' EXIT
listen_socat() {
	local name=$1 port pid
	for _ in 1 2 3 4 5; do
		port=$(free_port) || return 1
		setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "$2" \
			>>"$TEST_DIR/$name.log" 2>&1 &
		pid=$!
		socat_groups+=("$pid")
		for _ in $(seq 1 100); do
			if ss -Htlnp "sport = :$port" | grep -q "pid=$pid,"; then
				URL=http://127.0.0.1:$port
				eval "${name}_PID=$pid"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		unset 'socat_groups[-1]'
	done
	return 1
}

# tether_without NAME SONAME GLOB: writes $TEST_DIR/tether-no-NAME, a
# tether that sees the directory holding SONAME through a read-only
# overlay whose upper layer holds a whiteout for each file matching GLOB
# there, in a private mount namespace. Returns 1 where that cannot be
# done here (no mount namespaces, overlays or whiteouts): the caller
# skips.
tether_without() {
	local name=$1 soname=$2 glob=$3 path libdir f w=$TEST_DIR/whiteouts-$1
	path=$(ldconfig -p | awk -v s="$soname" '$1 == s { print $NF; exit }')
	[ -n "$path" ] || return 1
	libdir=$(dirname "$(readlink -f "$path")")
	mkdir "$w" || return 1
	for f in "$libdir"/$glob; do
		mknod "$w/${f##*/}" c 0 0 2>/dev/null || return 1
	done
	cat >"$TEST_DIR/tether-no-$name" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount -t overlay tether-no-$name -o "lowerdir=\$1:\$2" "\$2" &&
	shift 2 && exec "\$@"' sh "$w" "$libdir" "$TETHER" "\$@"
EOF
	chmod +x "$TEST_DIR/tether-no-$name"
	unshare -m sh -c 'mount -t overlay tether-no -o "lowerdir=$1:$2" "$2" &&
		test ! -e "$2/$3"' sh "$w" "$libdir" "$soname" 2>/dev/null
}

# zip_null OUT: a null-pin JWE of stdin, "zip":"DEF". jose cannot
# compress (it ignores "zip" in a header it is given), so the payload is
# deflated first and encrypted as it is.
zip_null() { # OUT: a null-pin JWE of stdin, deflated
	local key hdr
	key=$(jose jwk gen -i '{"alg":"A256GCM"}') || return 1
	hdr="{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"zip\":\"DEF\",\"clevis\":{\"pin\":\"null\",\"null\":{\"jwk\":$key}}}"
	python3 -c 'import sys, zlib
c = zlib.compressobj(9, zlib.DEFLATED, -15)
sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read()) + c.flush())' \
		>"$1.def" &&
	jose jwe enc -i "{\"protected\":$hdr}" -k- -I "$1.def" -c -o "$1" \
		<<<"$key"
}
