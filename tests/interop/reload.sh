#!/usr/bin/env bash
# SIGHUP under real use: credentials and revocation keep working across
# reloads; a bounded storm of reloads while clients hold, open and
# abandon connections on plain, TLS and socket-activated listeners leaves
# the server alive and serving; revocation fails closed when the clients
# file cannot be read, parsed or reached (refused and audited until it
# reads again), and a start as root with a clients file the service user
# could not read is refused; rate-limit buckets outlive a reload.
. "$(dirname "$0")/lib.sh"

d=$TEST_DIR/pki
test_ca "$d" && test_cert "$d" first 127.0.0.1 IP:127.0.0.1 &&
	test_cert "$d" second 127.0.0.1 IP:127.0.0.1
export CURL_CA_BUNDLE=$d/ca.pem
mkdir -m 0700 "$TEST_DIR/keys"
# A directory of its own, so that a test can take it out of reach.
cdir=$TEST_DIR/cdir
mkdir -m 0755 "$cdir"
C=$cdir/clients
tok=$("$TETHERD" clients add web1 --clients "$C")

# reloads NAME PID COUNT: sends SIGHUP COUNT times, each after the one
# before was logged (signals that arrive together are one reload).
reloads() {
	local name=$1 pid=$2 i n
	for i in $(seq 1 "$3"); do
		n=$(grep -c "reloaded settings" "$TEST_DIR/$name.log")
		kill -HUP "$pid" || return 1
		wait_for "reload $i" sh -c "[ \$(grep -c 'reloaded settings' \
			'$TEST_DIR/$name.log') -gt $n ]" || return 1
	done
}

# start_https NAME: tetherd with the clients and an https listener too,
# always on the same port (the binding names it); sets AUTH, web1's url.
TPORT=$(free_port)
start_https() {
	start_tetherd "$1" "$TEST_DIR/keys" --clients "$C" --auth-fail-rate 0 \
		--listen "https://127.0.0.1:$TPORT" --tls-cert "$d/first.pem" \
		--tls-key "$d/first.key" --audit-log "$TEST_DIR/audit.log" ||
		{ not_ok "tetherd starts"; cat "$TEST_DIR/$1.log"; done_testing; exit 1; }
	AUTH=https://web1:$tok@127.0.0.1:$TPORT
}
as_web1() { http_status GET "$AUTH/adv"; }

# ------------------------------------------------ credentials across reloads
start_https srv
check_eq "web1's credential is accepted" 200 "$(as_web1)"
head -c 32 /dev/urandom >"$TEST_DIR/plain"
clevis encrypt tang "{\"url\":\"$AUTH\"}" -y <"$TEST_DIR/plain" >"$TEST_DIR/jwe"
recovers() {
	clevis decrypt <"$TEST_DIR/jwe" 2>/dev/null | cmp -s - "$TEST_DIR/plain"
}
check "clevis binds with web1's credential" test -s "$TEST_DIR/jwe"
check "three reloads" reloads srv "$srv_PID" 3
check_eq "... and web1's credential is still accepted" 200 "$(as_web1)"
check_eq "... a wrong token still is not" 401 \
	"$(http_status GET "https://web1:wrong@127.0.0.1:$TPORT/adv")"
check "clients disable web1 after the reloads" \
	"$TETHERD" clients disable web1 --clients "$C"
check_eq "... takes effect at once: 403" 403 "$(as_web1)"
"$TETHERD" clients enable web1 --clients "$C"
check_eq "... and enable too: 200" 200 "$(as_web1)"

check "web1 recovers (clevis decrypt)" recovers
check_log_clean srv "$srv_PID"

# ------------------------------------------------ revocation fails closed
# Each case: web1 enabled and read; then a file that disables web1 which
# tetherd cannot read; web1 must not recover on the list read before.
# A server of its own, never reloaded.
start_https fc
check "web1 recovers" recovers
owner=$(stat -c %u:%g "$C")
# disabled_copy FILE: the clients file as it would be with web1 disabled.
disabled_copy() {
	sed 's/^web1 enabled /web1 disabled /' "$C" >"$1"
}
refused_while() { # CASE
	local what=$1
	if recovers; then
		not_ok "$what: web1, disabled there, cannot recover"
	else
		ok "$what: web1, disabled there, cannot recover"
	fi
	check_eq "... its requests get 503" 503 "$(as_web1)"
}
fixed() { # CASE: the file is readable again, web1 disabled in it
	check_eq "$1, fixed: web1 is disabled (403)" 403 "$(as_web1)"
	"$TETHERD" clients enable web1 --clients "$C"
	check "... enabled again, web1 recovers" recovers
}

# (a) unreadable: root's own 0600 file, as an editor run as root leaves.
disabled_copy "$cdir/new"
chmod 600 "$cdir/new"
mv -f "$cdir/new" "$C"
refused_while "a clients file the service user cannot read"
check "the log says why every client is refused" \
	grep -q "clients: cannot read the clients now (Permission denied): refusing every client" \
	"$TEST_DIR/fc.log"
check "the refusal is audited" sh -c "jq -e -s 'any(.event == \"denied\" and
	.status == 503 and .reason == \"clients file unreadable\" and
	.client == \"web1\")' '$TEST_DIR/audit.log' >/dev/null"
chown "$owner" "$C"
fixed "unreadable"
check "the log says when it reads again" \
	grep -q "clients: read again: 1 clients" "$TEST_DIR/fc.log"

# (b) malformed.
disabled_copy "$cdir/new"
echo "web2 maybe 00" >>"$cdir/new"
chown "$owner" "$cdir/new"
chmod 600 "$cdir/new"
mv -f "$cdir/new" "$C"
refused_while "a malformed clients file"
check "... the log names the line" grep -q "clients: line 2 is not" \
	"$TEST_DIR/fc.log"
sed -i '/^web2 /d' "$C"
fixed "malformed"

# (c) its directory out of the service user's reach.
chmod 0700 "$cdir"
"$TETHERD" clients disable web1 --clients "$C"
refused_while "a clients file in a directory the service user cannot enter"
chmod 0755 "$cdir"
fixed "unreachable"
check_log_clean fc "$fc_PID"

# ------------------------------------------------ start-up as root
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 0700 "$TEST_DIR/private"
	cp -p "$C" "$TEST_DIR/private/clients"
	chown root:root "$TEST_DIR/private/clients"
	mkdir -m 0700 "$TEST_DIR/k2"
	p=$(free_port)
	rc=0
	timeout 20 "$TETHERD" serve --keys "$TEST_DIR/k2" \
		--clients "$TEST_DIR/private/clients" \
		--listen "http://127.0.0.1:$p" >/dev/null 2>"$TEST_DIR/root.err" ||
		rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
		ok "as root, a clients file the service user cannot read refuses the start"
	else
		not_ok "as root, a clients file the service user cannot read refuses the start" \
			"exit $rc" "$(cat "$TEST_DIR/root.err")"
	fi
	check "... naming the file and the user" grep -q \
		"private/clients: $SERVICE_USER cannot read it (Permission denied)" \
		"$TEST_DIR/root.err"
	check "... and nothing listens" \
		sh -c "! curl -s -o /dev/null --max-time 2 http://127.0.0.1:$p/adv"
else
	skip "as root, an unreadable clients file refuses the start" "not root"
fi

# ------------------------------------------------ rate limits across reloads
start_tetherd lim "$TEST_DIR/keys" --clients "$C" \
	--auth-fail-rate 1 --auth-fail-burst 2 --rec-rate 1 --rec-burst 1
# From addresses of their own: waiting for the server failed 127.0.0.1.
codes=
for i in 1 2 3; do
	codes="$codes $(http_status GET "http://web1:wrong$i@127.0.0.1:$PORT/adv" \
		--interface 127.0.0.2)"
done
check_eq "wrong tokens: 401 twice (burst 2), then 429" " 401 401 429" "$codes"
rec() {
	http_status POST "http://web1:$tok@127.0.0.1:$PORT/rec/none" \
		--data '{}' --interface 127.0.0.3
}
r1=$(rec)
r2=$(rec)
check "... web1 has one recovery a minute: answered ($r1), then 429 ($r2)" \
	test "$r1" != 429 -a "$r1" != 000 -a "$r2" = 429
check "a reload" reloads lim "$lim_PID" 1
check_eq "right after it, the address is still locked out: 429" 429 \
	"$(http_status GET "http://web1:wrong4@127.0.0.1:$PORT/adv" \
	--interface 127.0.0.2)"
check_eq "... and web1 still over its recovery rate: 429" 429 "$(rec)"
check_log_clean lim "$lim_PID"

# ------------------------------------------------ a storm of reloads
# Small connection limits, so that the clients holding connections keep
# the servers at their limit while they reload.
SAPORT=$(free_port)
P=$(free_port)
TP=$(free_port)
conf=$TEST_DIR/storm.conf
write_conf() { # CERT RATE
	cat >"$conf.new" <<EOF
keys = $TEST_DIR/keys
clients = $C
listen = http://127.0.0.1:$P
listen = https://127.0.0.1:$TP
tls-cert = $d/$1.pem
tls-key = $d/$1.key
threads = 2
timeout = 10
max-connections = 16
max-connections-per-address = 0
rec-rate = $2
auth-fail-rate = 0
EOF
	mv -f "$conf.new" "$conf"
}
# Read on reload by the service user, as a renewal hook would leave it.
[ "$(id -u)" -ne 0 ] || chown "$SERVICE_USER" "$d/second.key"
write_conf first 0
systemd-socket-activate -l "127.0.0.1:$SAPORT" \
	"$TETHERD" serve --config "$conf" >>"$TEST_DIR/storm.log" 2>&1 &
storm_PID=$!
test_pids+=("$storm_PID")
# (started at the first connection to the socket)
check "a server with plain, TLS and socket-activated listeners starts" \
	sh -c "$(declare -f wait_http); wait_http http://127.0.0.1:$SAPORT/adv &&
	wait_http http://127.0.0.1:$P/adv"
endpoints=("http://127.0.0.1:$P" "https://127.0.0.1:$TP"
	"http://127.0.0.1:$SAPORT")
ports=("$P" "$TP" "$SAPORT")
for u in "${endpoints[@]}"; do
	check_eq "web1 is served at $u" 200 \
		"$(http_status GET "${u/:\/\//://web1:$tok@}/adv")"
done

# Background clients, each bounded in count and time, and stopped early
# once the storm is over.
stop=$TEST_DIR/storm.over
requester() { # N: authenticated requests round the listeners
	local i u
	for i in $(seq 1 "$1"); do
		[ ! -e "$stop" ] || break
		u=${endpoints[i % 3]}
		curl -s -o /dev/null --max-time 2 "${u/:\/\//://web1:$tok@}/adv"
	done
}
holder() { # N: connections held a moment with nothing sent
	local i
	for i in $(seq 1 "$1"); do
		[ ! -e "$stop" ] || break
		exec {fd}<>"/dev/tcp/127.0.0.1/${ports[i % 3]}" || continue
		sleep 0.3
		exec {fd}>&-
	done
}
abandoner() { # N: half a request, or half a TLS hello, then gone
	local i
	for i in $(seq 1 "$1"); do
		[ ! -e "$stop" ] || break
		exec {fd}<>"/dev/tcp/127.0.0.1/${ports[i % 3]}" || continue
		if [ $((i % 3)) -eq 1 ]; then
			printf '\026\003\001\002\000\001\000\001\374\003\003' >&"$fd"
		else
			printf 'POST /rec/x HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n{' >&"$fd"
		fi
		exec {fd}>&-
	done
}
tls_abandoner() { # N: a full handshake, then closed with no request
	local i
	for i in $(seq 1 "$1"); do
		[ ! -e "$stop" ] || break
		timeout 5 openssl s_client -connect "127.0.0.1:$TP" -quiet \
			</dev/null >/dev/null 2>&1
	done
}
bg=()
for j in 1 2; do
	timeout 120 bash -c "stop=$stop; $(declare -p endpoints ports tok); \
		$(declare -f requester); requester 150" &
	bg+=("$!")
done
for j in 1 2 3 4 5 6; do
	timeout 120 bash -c "stop=$stop; $(declare -p ports); $(declare -f holder); holder 60" &
	bg+=("$!")
done
timeout 120 bash -c "stop=$stop; $(declare -p ports); $(declare -f abandoner); abandoner 200" &
bg+=("$!")
timeout 120 bash -c "stop=$stop; TP=$TP; $(declare -f tls_abandoner); tls_abandoner 40" &
bg+=("$!")
test_pids+=("${bg[@]}")

# 300 SIGHUPs, every tenth with the other certificate and recovery rate.
sent=0
for i in $(seq 1 300); do
	if [ $((i % 10)) -eq 0 ]; then
		if [ $((i % 20)) -eq 0 ]; then write_conf first 0; else write_conf second 60; fi
	fi
	kill -HUP "$storm_PID" 2>/dev/null || break
	sent=$i
	sleep 0.02
done
touch "$stop"
check_eq "300 SIGHUPs sent while clients came and went" 300 "$sent"
for pid in "${bg[@]}"; do
	wait "$pid" 2>/dev/null
done
check "the server is still running" kill -0 "$storm_PID"
for u in "${endpoints[@]}"; do
	check_eq "... and serves web1 at $u" 200 \
		"$(http_status GET "${u/:\/\//://web1:$tok@}/adv")"
done
check "it reloaded" grep -q "reloaded settings from $conf" "$TEST_DIR/storm.log"
check "... and no reload failed" \
	sh -c "! grep -q 'reload failed' '$TEST_DIR/storm.log'"
# A connection held open on the https listener across two reloads that
# change the certificate: each reload applies, whatever is still open.
exec {held}<>"/dev/tcp/127.0.0.1/$TP"
write_conf first 0
check "a reload while a connection is open" reloads storm "$storm_PID" 1
write_conf second 0
check "... and another one at once" reloads storm "$storm_PID" 1
check_eq "new connections get the certificate the file names last" \
	"$(openssl x509 -noout -fingerprint -sha256 -in "$d/second.pem")" \
	"$(openssl s_client -connect "127.0.0.1:$TP" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256)"
exec {held}>&-
sed -i 's/^threads = 2$/threads = 3/' "$conf"
check "a reload asking for other threads" reloads storm "$storm_PID" 1
check "... says they change only on restart" grep -q \
	"reload: threads, timeout and connection limits change only on restart" \
	"$TEST_DIR/storm.log"
check_eq "... and serves on" 200 \
	"$(http_status GET "http://web1:$tok@127.0.0.1:$P/adv")"
check "it never logged a fatal error" \
	sh -c "! grep -Ei 'fatal|abort' '$TEST_DIR/storm.log'"
check_log_clean storm "$storm_PID"

done_testing
