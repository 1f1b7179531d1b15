#!/usr/bin/env bash
# tether's sss pin against Debian's clevis over three servers (two tetherd
# with their own keys, one real tangd): each tool decrypts what either made
# with any one server down and neither with two down; nested sss, null
# shares (compressed ones too), bad thresholds; and sss asks every server at once, so a server
# that never answers does not hold up a threshold the others meet.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

PLAIN=$TEST_DIR/plain
{
	printf '\0\n\r\377sss\0'
	head -c 2000 /dev/urandom
} >"$PLAIN"
: >"$TEST_DIR/empty"

# ---------------------------------------------------------------- servers

# Servers a and b are tetherd with their own keys, c is tangd.
mkdir -m 0700 "$TEST_DIR/a-keys" "$TEST_DIR/b-keys" "$TEST_DIR/c-keys"
"$TANGD_KEYGEN" "$TEST_DIR/c-keys" >/dev/null 2>&1

# start NAME PORT: starts server NAME on PORT; sets NAME_URL,
# NAME_PORT and NAME_PID.
start() {
	local rc=0
	if [ "$1" = c ]; then
		WANT_PORT=$2 start_tangd "$1" "$TEST_DIR/$1-keys" || rc=$?
	else
		WANT_PORT=$2 start_tetherd "$1" "$TEST_DIR/$1-keys" || rc=$?
	fi
	eval "${1}_URL=\$URL ${1}_PORT=\$PORT"
	return $rc
}
stop() { # NAME...
	local n v
	for n in "$@"; do
		v=${n}_PID
		stop_pid "${!v}"
	done
}
restart() { # NAME...: on the same port as before
	local n v
	for n in "$@"; do
		v=${n}_PORT
		start "$n" "${!v}" ||
			not_ok "server $n restarts on port ${!v}" \
				"$(ss -Htanp "sport = :${!v}" 2>&1)" \
				"$(tail -n 3 "$TEST_DIR/$n.log")"
	done
}

for s in a b c; do
	start "$s" "$(free_port)" || {
		not_ok "server $s starts" "$(tail -n 5 "$TEST_DIR/$s.log")"
		done_testing
		exit 1
	}
done
ok "two tetherd and one tangd start"
# shellcheck disable=SC2154
{
	a_thp=$(key_thps "$TEST_DIR/a-keys" verify)
	b_thp=$(key_thps "$TEST_DIR/b-keys" verify)
	c_thp=$(key_thps "$TEST_DIR/c-keys" verify)
	A="{\"url\":\"$a_URL\",\"thp\":\"$a_thp\"}"
	B="{\"url\":\"$b_URL\",\"thp\":\"$b_thp\"}"
	C="{\"url\":\"$c_URL\",\"thp\":\"$c_thp\"}"
}
check "the three servers have different signing keys" \
	test "$a_thp" != "$b_thp" -a "$b_thp" != "$c_thp" -a "$a_thp" != "$c_thp"

# ------------------------------------------------- t=2 of three servers

d=$TEST_DIR/t2
mkdir "$d"
cfg="{\"t\":2,\"pins\":{\"tang\":[$A,$B,$C]}}"
trun "$PLAIN" "$d/tether.jwe" encrypt sss "$cfg"
expect_ok "tether encrypt sss t=2 over a, b (tetherd) and c (tangd)"
clevis_encrypt "clevis encrypt sss t=2 over the same servers" sss "$cfg" "$d/clevis.jwe"

for maker in tether clevis; do
	recovers "$maker's t=2 JWE: tether decrypts with all servers up" tether "$d/$maker.jwe"
	recovers "$maker's t=2 JWE: clevis decrypts with all servers up" clevis "$d/$maker.jwe"
done
for down in a b c; do
	stop "$down"
	for maker in tether clevis; do
		recovers "$maker's t=2 JWE, $down stopped: tether decrypts" tether "$d/$maker.jwe"
		recovers "$maker's t=2 JWE, $down stopped: clevis decrypts" clevis "$d/$maker.jwe"
	done
	restart "$down"
done

stop a c
for maker in tether clevis; do
	trun "$d/$maker.jwe" "$d/$maker-2down.out" decrypt
	expect_failed "$maker's t=2 JWE, a and c stopped: tether fails, 1 of 3 recovered" \
		"$d/$maker-2down.out" "1 of 3 shares recovered, 2 needed"
	check "... and names both stopped servers' addresses" \
		sh -c "grep -q '127\\.0\\.0\\.1:$a_PORT' '$TEST_DIR/err' &&
			grep -q '127\\.0\\.0\\.1:$c_PORT' '$TEST_DIR/err'"
	clevis_fails "$maker's t=2 JWE, a and c stopped: clevis fails too" "$d/$maker.jwe"
done
restart a c
recovers "with a and c back, tether decrypts again" tether "$d/tether.jwe"

# ----------------------------------------------------------- nested sss

# One share is itself t=2 over a and b, the other is c.
d=$TEST_DIR/nested
mkdir "$d"
cfg="{\"t\":1,\"pins\":{\"sss\":{\"t\":2,\"pins\":{\"tang\":[$A,$B]}},\"tang\":[$C]}}"
trun "$PLAIN" "$d/tether.jwe" encrypt sss "$cfg"
expect_ok "tether encrypt sss with an sss share inside"
clevis_encrypt "clevis encrypt sss with an sss share inside" sss "$cfg" "$d/clevis.jwe"

stop c
for maker in tether clevis; do
	recovers "nested, $maker's, c stopped (inner sss needed): tether decrypts" \
		tether "$d/$maker.jwe"
	recovers "nested, $maker's, c stopped: clevis decrypts" clevis "$d/$maker.jwe"
done
stop b
for maker in tether clevis; do
	trun "$d/$maker.jwe" "$d/$maker-bc.out" decrypt
	expect_failed "nested, $maker's, b and c stopped: tether fails (inner 1 of 2)" \
		"$d/$maker-bc.out" "0 of 2 shares recovered, 1 needed"
	check "... having reported the inner sss short of its threshold" \
		grep -q "1 of 2 shares recovered, 2 needed" "$TEST_DIR/err"
	clevis_fails "nested, $maker's, b and c stopped: clevis fails too" "$d/$maker.jwe"
done
restart b c
stop a
for maker in tether clevis; do
	recovers "nested, $maker's, a stopped (inner fails, c suffices): tether decrypts" \
		tether "$d/$maker.jwe"
	recovers "nested, $maker's, a stopped: clevis decrypts" clevis "$d/$maker.jwe"
done
restart a

# -------------------------------------------------------- null shares

d=$TEST_DIR/null
mkdir "$d"
trun "$PLAIN" "$d/ok.jwe" encrypt null '{}'
expect_ok "tether encrypt null"
recovers "... tether decrypts it" tether "$d/ok.jwe"
recovers "... clevis decrypts it" clevis "$d/ok.jwe"
trun "$PLAIN" "$d/fail.jwe" encrypt null '{"fail":true}'
expect_ok "tether encrypt null {\"fail\":true}"
trun "$d/fail.jwe" "$d/fail.out" decrypt
expect_failed "... tether refuses to decrypt it" "$d/fail.out" "null"
clevis_fails "... and so does clevis" "$d/fail.jwe"
clevis_encrypt "clevis encrypt null {\"fail\":true}" null '{"fail":true}' "$d/cfail.jwe"
trun "$d/cfail.jwe" "$d/cfail.out" decrypt
expect_failed "... tether refuses clevis's failing null share" "$d/cfail.out" "null"

# Compressed ("zip":"DEF"): clevis never writes it, but jose reads it, so
# tether does too, inflating to at most the 512 KiB it encrypts. jose
# cannot compress (it ignores "zip" in a header it is given), so the
# payload is deflated first and encrypted as it is (zip_null).
check "a compressed null share of the plaintext" zip_null "$d/zip.jwe" <"$PLAIN"
recovers "... clevis decrypts it" clevis "$d/zip.jwe"
recovers "... and so does tether" tether "$d/zip.jwe"
head -c $((64 * 1024 * 1024)) /dev/zero | zip_null "$d/bomb.jwe"
check "64 MiB of zeros compressed to a JWE of under 256 KiB" \
	test "$(wc -c <"$d/bomb.jwe")" -lt 262144
trun "$d/bomb.jwe" "$d/bomb.out" decrypt
expect_failed "... tether refuses it, writing nothing" "$d/bomb.out" \
	"inflates past 512 KiB"

cfg="{\"t\":2,\"pins\":{\"null\":[{},{\"fail\":true}],\"tang\":[$A]}}"
trun "$PLAIN" "$d/tether.jwe" encrypt sss "$cfg"
expect_ok "tether encrypt sss t=2 over null, failing null and a"
clevis_encrypt "clevis encrypt sss t=2 over null, failing null and a" sss "$cfg" "$d/clevis.jwe"
for maker in tether clevis; do
	recovers "null shares, $maker's, a up: tether decrypts" tether "$d/$maker.jwe"
	recovers "null shares, $maker's, a up: clevis decrypts" clevis "$d/$maker.jwe"
done
stop a
for maker in tether clevis; do
	trun "$d/$maker.jwe" "$d/$maker-down.out" decrypt
	expect_failed "null shares, $maker's, a stopped: tether fails (the fail share does not count)" \
		"$d/$maker-down.out" "1 of 3 shares recovered, 2 needed"
	clevis_fails "null shares, $maker's, a stopped: clevis fails too" "$d/$maker.jwe"
done
restart a

# ----------------------------------------------------- bad thresholds

d=$TEST_DIR/bad
mkdir "$d"
bad_cfgs=(
	'{"t":0,"pins":{"null":[{},{}]}}'
	'{"t":-1,"pins":{"null":{}}}'
	'{"t":3,"pins":{"null":[{},{}]}}'
	"{\"t\":4,\"pins\":{\"tang\":[$A,$B,$C]}}"
	'{"t":1}'
	'{"t":1,"pins":{}}'
	'{"t":1,"pins":{"tang":[]}}'
	'{"t":1,"pins":[]}'
	'{"t":"1","pins":{"null":{}}}'
	'{"t":1.5,"pins":{"null":[{},{}]}}'
	'{"t":1,"pins":{"tpm9":{}}}'
	'{"t":1,"pins":{"sss":{"t":0,"pins":{"null":{}}}}}'
	'not json'
)
for c in "${bad_cfgs[@]}"; do
	trun "$PLAIN" "$d/out" encrypt sss "$c"
	expect_failed "sss config refused in one line: $c" "$d/out" "." 1
done
trun "$PLAIN" "$d/out" encrypt sss '{"t":1,"pins":{"tpm9":{}}}'
expect_failed "... the unknown pin inside sss is named" "$d/out" "tpm9" 1

# ---------------------------------------- all at once, stop at threshold

d=$TEST_DIR/early
mkdir "$d"
curl -sSf --max-time 10 "$b_URL/adv" >"$d/b-adv.json"

# A server that accepts and never answers.
listen_socat hang "EXEC:sleep 30"
check "a server that never answers listens" test -n "${hang_PID:-}"
HANG_PORT=${URL##*:}
H="{\"url\":\"http://127.0.0.1:$HANG_PORT\",\"adv\":\"$d/b-adv.json\"}"

# fast_recovers DESCRIPTION JWE: with TETHER_TIMEOUT=20, tether decrypt
# must finish within 10 s: it may not wait for the silent server.
fast_recovers() {
	local rc=0
	TETHER_TIMEOUT=20 timeout 10 "$TETHER" decrypt <"$2" >"$d/fast.out" \
		2>"$TEST_DIR/err" || rc=$?
	if [ "$rc" -eq 124 ]; then
		not_ok "$1" "still running after 10 s: it waited for the silent server"
	elif [ "$rc" -ne 0 ]; then
		not_ok "$1" "exit status $rc" "stderr: $(cat "$TEST_DIR/err")"
	elif ! cmp -s "$d/fast.out" "$PLAIN"; then
		not_ok "$1" "the output differs from the plaintext"
	else
		ok "$1"
	fi
}

trun "$PLAIN" "$d/hang-first.jwe" encrypt sss "{\"t\":1,\"pins\":{\"tang\":[$H,$A]}}"
expect_ok "encrypt sss t=1 over [silent, a]"
trun "$PLAIN" "$d/hang-last.jwe" encrypt sss "{\"t\":1,\"pins\":{\"tang\":[$A,$H]}}"
expect_ok "encrypt sss t=1 over [a, silent]"
trun "$PLAIN" "$d/hang-2of3.jwe" encrypt sss "{\"t\":2,\"pins\":{\"tang\":[$H,$A,$C]}}"
expect_ok "encrypt sss t=2 over [silent, a, c]"
trun "$PLAIN" "$d/hang-nested.jwe" encrypt sss \
	"{\"t\":1,\"pins\":{\"sss\":{\"t\":1,\"pins\":{\"tang\":[$H]}},\"tang\":[$A]}}"
expect_ok "encrypt sss t=1 over [sss t=1 over [silent], a]"

fast_recovers "t=1 over [silent, a]: decrypts without waiting for the silent server" \
	"$d/hang-first.jwe"
fast_recovers "t=1 over [a, silent]: decrypts without waiting for the silent server" \
	"$d/hang-last.jwe"
fast_recovers "t=2 over [silent, a, c]: decrypts without waiting for the silent server" \
	"$d/hang-2of3.jwe"
fast_recovers "t=1 over [sss over [silent], a]: decrypts without waiting for the nested silent server" \
	"$d/hang-nested.jwe"

# With the silent server and a stopped one, nothing recovers: a bounded
# failure that names the timeout and the threshold.
stop a
RC=0
TETHER_TIMEOUT=2 timeout 20 "$TETHER" decrypt <"$d/hang-first.jwe" \
	>"$d/none.out" 2>"$TEST_DIR/err" || RC=$?
ERR=$(cat "$TEST_DIR/err")
expect_failed "t=1 over [silent, stopped a], TETHER_TIMEOUT=2: fails, 0 of 2 recovered" \
	"$d/none.out" "0 of 2 shares recovered, 1 needed"
check "... reporting the silent server's timeout" \
	grep -q "timed out.*127\\.0\\.0\\.1:$HANG_PORT" "$TEST_DIR/err"
check "... and the refused connection to a" \
	grep -q "127\\.0\\.0\\.1:$a_PORT.*[Rr]efused" "$TEST_DIR/err"
restart a

for s in a b; do
	pid_var=${s}_PID
	check_log_clean "$s" "${!pid_var}"
done

done_testing
