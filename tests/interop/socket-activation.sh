#!/usr/bin/env bash
# Where tetherd listens: systemd socket activation (clevis round trip),
# IPv6 loopback, several --listen at once; readiness through sd_notify;
# command lines it must refuse, with one line and no side effect.
. "$(dirname "$0")/lib.sh"

plain=$TEST_DIR/plain
head -c 32 /dev/urandom >"$plain"

# (a) Socket activation: systemd-socket-activate holds the listening socket
# and execs tetherd, which gets it through LISTEN_FDS (no --listen).
keys=$TEST_DIR/keys
mkdir -m 0700 "$keys"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
systemd-socket-activate -l "127.0.0.1:$PORT" \
	"$TETHERD" serve --keys "$keys" >>"$TEST_DIR/sa.log" 2>&1 &
sa_PID=$!
test_pids+=("$sa_PID")
check "a socket-activated tetherd answers" wait_http "$URL/adv"
check_eq "GET /adv: 200" 200 "$(http_status GET "$URL/adv")"
check "it serves the socket it was given" \
	grep -qF "listening on http://127.0.0.1:$PORT" "$TEST_DIR/sa.log"
thp=$("$TETHERD" keys list --keys "$keys")
check "clevis encrypt tang against it" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"$thp\"}' <'$plain' >'$TEST_DIR/jwe'"
check "clevis decrypt through it" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe' | cmp - '$plain'"
check_log_clean sa "$sa_PID"

# (a2) Named sockets, as FileDescriptorName= names them: "https" is a TLS
# listener and asks for credentials; "open" is plain HTTP and asks none.
d=$TEST_DIR/pki
if test_ca "$d" && test_cert "$d" srv 127.0.0.1 "IP:127.0.0.1"; then
	ps=$(free_port)
	po=$(free_port)
	while [ "$po" = "$ps" ]; do po=$(free_port); done
	"$TETHERD" clients add web1 --clients "$TEST_DIR/clients" \
		>"$TEST_DIR/web1.token"
	token=$(tail -n 1 "$TEST_DIR/web1.token")
	systemd-socket-activate -l "127.0.0.1:$ps" -l "127.0.0.1:$po" \
		--fdname=https:open "$TETHERD" serve --keys "$keys" \
		--tls-cert "$d/srv.pem" --tls-key "$d/srv.key" \
		--clients "$TEST_DIR/clients" >>"$TEST_DIR/named.log" 2>&1 &
	named_PID=$!
	test_pids+=("$named_PID")
	wait_http "http://127.0.0.1:$po/adv"
	check "the socket named https speaks TLS" curl -sSf --cacert "$d/ca.pem" \
		-u "web1:$token" -o /dev/null "https://127.0.0.1:$ps/adv"
	check "... and is logged as https" \
		grep -qF "listening on https://127.0.0.1:$ps" "$TEST_DIR/named.log"
	check_eq "... and asks for credentials" 401 \
		"$(http_status GET "https://127.0.0.1:$ps/adv" --cacert "$d/ca.pem")"
	check_eq "the socket named open is plain HTTP and asks none" 200 \
		"$(http_status GET "http://127.0.0.1:$po/adv")"
	check_log_clean named "$named_PID"
	ph=$(free_port)
	systemd-socket-activate -l "127.0.0.1:$ph" --fdname=https \
		"$TETHERD" serve --keys "$keys" >"$TEST_DIR/nocert.log" 2>&1 &
	nocert_PID=$!
	test_pids+=("$nocert_PID")
	curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$ph/adv"
	# It exits as soon as it refuses; a sanitizer build on a busy
	# machine may take a while to get there.
	for _ in $(seq 1 600); do
		kill -0 "$nocert_PID" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "$nocert_PID"
	check "a socket named https without tls-cert is refused, saying so" \
		grep -q "the socket named https needs tls-cert and tls-key" \
		"$TEST_DIR/nocert.log"
else
	not_ok "a test CA and certificate for the named sockets"
fi

# (a3) Restarted on the socket systemd keeps (systemctl restart): the
# first server's library shuts the shared socket down as it stops.
PORT=$(free_port)
python3 "$(dirname "$0")/activate-twice.py" "$PORT" "$TETHERD" serve \
	--keys "$keys" >"$TEST_DIR/twice.out" 2>"$TEST_DIR/twice.log"
check_eq "a socket-activated tetherd stopped and started again on the same socket serves" \
	"$(printf 'served\nserved')" "$(cat "$TEST_DIR/twice.out")"

# (b) IPv6 loopback.
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	PORT=$(free_port)
	"$TETHERD" serve --keys "$keys" --listen "http://[::1]:$PORT" \
		>>"$TEST_DIR/v6.log" 2>&1 &
	v6_PID=$!
	test_pids+=("$v6_PID")
	check "tetherd --listen http://[::1]:PORT answers" \
		wait_http "http://[::1]:$PORT/adv"
	check_eq "GET /adv over IPv6: 200" 200 \
		"$(http_status GET "http://[::1]:$PORT/adv" -g)"
	check "... the request is logged with the IPv6 address" \
		grep -Eq '^\[::1\]:[0-9]+ GET /adv 200 ' "$TEST_DIR/v6.log"
	check "... and the IPv6 listener is not also an IPv4 one" \
		sh -c "! curl -s -o /dev/null --max-time 5 http://127.0.0.1:$PORT/adv"
	check_log_clean v6 "$v6_PID"
else
	ok "IPv6 loopback # SKIP no IPv6 loopback"
fi

# (c) Two --listen at once.
p1=$(free_port)
p2=$(free_port)
while [ "$p2" = "$p1" ]; do p2=$(free_port); done
"$TETHERD" serve --keys "$keys" --listen "http://127.0.0.1:$p1" \
	--listen "http://127.0.0.1:$p2" >>"$TEST_DIR/two.log" 2>&1 &
two_PID=$!
test_pids+=("$two_PID")
check "the first of two listeners answers" \
	wait_http "http://127.0.0.1:$p1/adv"
check_eq "... GET /adv on the first: 200" 200 \
	"$(http_status GET "http://127.0.0.1:$p1/adv")"
check_eq "... GET /adv on the second: 200" 200 \
	"$(http_status GET "http://127.0.0.1:$p2/adv")"
check_eq "... both serve the same advertisement" \
	"$(curl -s --max-time 5 "http://127.0.0.1:$p1/adv")" \
	"$(curl -s --max-time 5 "http://127.0.0.1:$p2/adv")"
check "clevis decrypt through the second listener" \
	sh -c "clevis encrypt tang '{\"url\":\"http://127.0.0.1:$p2\",\"thp\":\"$thp\"}' <'$plain' | clevis decrypt | cmp - '$plain'"
check_log_clean two "$two_PID"

# (d) Readiness: READY=1 reaches $NOTIFY_SOCKET once tetherd serves, and
# STOPPING=1 when it stops.
sock=$TEST_DIR/notify.sock
timeout 60 socat -u "UNIX-RECV:$sock" STDOUT >"$TEST_DIR/notify.out" 2>&1 &
test_pids+=("$!")
check "the notification socket is ready" wait_for "socket" test -S "$sock"
# Writable by the service user tetherd becomes, as systemd's is.
chmod 666 "$sock"
PORT=$(free_port)
NOTIFY_SOCKET=$sock "$TETHERD" serve --keys "$keys" \
	--listen "http://127.0.0.1:$PORT" >>"$TEST_DIR/notify.log" 2>&1 &
notify_PID=$!
test_pids+=("$notify_PID")
# (socat writes the datagrams one after the other, with no separator)
check "READY=1 arrives" \
	wait_for "READY=1" grep -q 'READY=1' "$TEST_DIR/notify.out"
check_eq "... and tetherd answers as soon as it said so" 200 \
	"$(http_status GET "http://127.0.0.1:$PORT/adv")"
check_log_clean notify "$notify_PID"
check "STOPPING=1 arrives when it stops" \
	wait_for "STOPPING=1" grep -q 'STOPPING=1' "$TEST_DIR/notify.out"

# (e) Bad command lines: a non-zero exit, one line on stderr that names
# what is wrong, no server and no change in the keys directory.
busy=$(free_port)
"$TETHERD" serve --keys "$keys" --listen "http://127.0.0.1:$busy" \
	>>"$TEST_DIR/busy.log" 2>&1 &
busy_PID=$!
test_pids+=("$busy_PID")
wait_http "http://127.0.0.1:$busy/adv"
n=0
refused() { # DESCRIPTION REGEX ARGS...: runs tetherd ARGS (%KEYS% is a new
	# empty keys directory, %PORT% a free port)
	local desc=$1 regex=$2 dir port status arg args=()
	shift 2
	n=$((n + 1))
	dir=$TEST_DIR/empty$n
	mkdir -m 0700 "$dir"
	port=$(free_port)
	for arg in "$@"; do
		arg=${arg//%KEYS%/$dir}
		args+=("${arg//%PORT%/$port}")
	done
	status=0
	env -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES -u NOTIFY_SOCKET \
		timeout 10 "$TETHERD" "${args[@]}" \
		>"$TEST_DIR/out$n" 2>"$TEST_DIR/err$n" || status=$?
	if [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; then
		ok "$desc: refused"
	else
		not_ok "$desc: refused" "exit status $status" \
			"stderr: $(head -c 500 "$TEST_DIR/err$n" | tr '\n' ' ')"
	fi
	check_eq "... with one line on stderr" 1 "$(wc -l <"$TEST_DIR/err$n")"
	check "... that says what is wrong" \
		grep -Eiq -- "$regex" "$TEST_DIR/err$n"
	check_eq "... and no key created" "" "$(ls -A "$dir" | tr '\n' ' ')"
	check "... and nothing listening" \
		sh -c "! curl -s -o /dev/null --max-time 2 http://127.0.0.1:$port/adv"
}
refused "a host name" 'localhost' \
	serve --keys %KEYS% --listen http://localhost:%PORT%
refused "port 0" '127\.0\.0\.1:0' \
	serve --keys %KEYS% --listen http://127.0.0.1:0
refused "port 99999" '99999' \
	serve --keys %KEYS% --listen http://127.0.0.1:99999
refused "no port" '--listen' \
	serve --keys %KEYS% --listen http://127.0.0.1
refused "a path after the port" '--listen' \
	serve --keys %KEYS% --listen http://127.0.0.1:%PORT%/tang
refused "ftp://" 'ftp://' \
	serve --keys %KEYS% --listen ftp://127.0.0.1:%PORT%
refused "https:// (no TLS configured)" 'https://' \
	serve --keys %KEYS% --listen https://127.0.0.1:%PORT%
refused "a port in use (keys already there)" 'in use' \
	serve --keys "$keys" --listen "http://127.0.0.1:$busy"
refused "no --keys" '--keys' \
	serve --listen http://127.0.0.1:%PORT%
refused "--threads 0" '--threads' \
	serve --keys %KEYS% --threads 0 --listen http://127.0.0.1:%PORT%
refused "--timeout 0" '--timeout' \
	serve --keys %KEYS% --timeout 0 --listen http://127.0.0.1:%PORT%
refused "--max-connections 0" '--max-connections' \
	serve --keys %KEYS% --max-connections 0 --listen http://127.0.0.1:%PORT%
refused "a keys directory that does not exist" 'no-such-dir' \
	serve --keys "$TEST_DIR/no-such-dir" --listen http://127.0.0.1:%PORT%
check "... and it is not created" test ! -e "$TEST_DIR/no-such-dir"
refused "no --listen and no LISTEN_FDS" 'listen' \
	serve --keys %KEYS%
check_eq "the server on the busy port still answers" 200 \
	"$(http_status GET "http://127.0.0.1:$busy/adv")"
check_log_clean busy "$busy_PID"

done_testing
