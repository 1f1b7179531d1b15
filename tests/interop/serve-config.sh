#!/usr/bin/env bash
# tetherd serve --config: the file, flags over it, errors that name the
# line; SIGHUP swapping policy and TLS certificates while open
# connections go on; a bad reload keeping the old settings; and the
# process giving up root, checked from /proc.
. "$(dirname "$0")/lib.sh"

d=$TEST_DIR/pki
test_ca "$d" &&
	test_cert "$d" first first IP:127.0.0.1 &&
	test_cert "$d" second second IP:127.0.0.1
cp "$d/first.pem" "$d/srv.pem"
cp -p "$d/first.key" "$d/srv.key"

mkdir -m 0700 "$TEST_DIR/keys"
PORT=$(free_port)
TPORT=$(free_port)
conf=$TEST_DIR/tetherd.conf
write_conf() { # ALLOW
	cat >"$conf" <<EOF
# A test server.
keys = $TEST_DIR/keys
listen = http://127.0.0.1:$PORT
listen = https://127.0.0.1:$TPORT
tls-cert = $d/srv.pem
tls-key = $d/srv.key
allow = $1
threads = 2
EOF
}

# Bad files: one line that names the file and line; nothing starts.
bad_conf() { # DESCRIPTION EXPECTED-MESSAGE CONTENT
	local desc=$1 want=$2
	mkdir -m 0700 "$TEST_DIR/k-bad"
	printf '%s\n' "keys = $TEST_DIR/k-bad" "$3" >"$TEST_DIR/bad.conf"
	if timeout 20 "$TETHERD" serve --config "$TEST_DIR/bad.conf" \
		--listen "http://127.0.0.1:$PORT" 2>"$TEST_DIR/bad.err"; then
		not_ok "$desc"
	elif [ "$(wc -l <"$TEST_DIR/bad.err")" -eq 1 ] &&
		grep -qF "bad.conf:2: $want" "$TEST_DIR/bad.err" &&
		[ -z "$(ls -A "$TEST_DIR/k-bad")" ]; then
		ok "$desc"
	else
		not_ok "$desc" "$(cat "$TEST_DIR/bad.err")"
	fi
	rm -rf "$TEST_DIR/k-bad"
}
bad_conf "an unknown setting is refused, naming file and line" \
	"unknown setting 'lisen'" "lisen = http://127.0.0.1:1"
bad_conf "a bad number is refused with its range" \
	"threads: expected a number from 1 to 256, got 'lots'" "threads = lots"
bad_conf "a line with no '=' is refused" "expected 'name = value'" "listen"
bad_conf "a CIDR with host bits is refused" "allow: '10.0.0.1/8'" \
	"allow = 10.0.0.1/8"
bad_conf "a section is refused" "[main]: the file has no sections" "[main]"
bad_conf "a setting's name with control characters is quoted escaped" \
	"unknown setting 'red\\x1b[31m'" "$(printf 'red\033[31m = 1')"

write_conf 127.0.0.0/8
"$TETHERD" serve --config "$conf" >"$TEST_DIR/srv.log" 2>&1 &
srv_PID=$!
test_pids+=("$srv_PID")
URL=http://127.0.0.1:$PORT
if wait_http "$URL/adv"; then
	ok "tetherd serves the listeners its config file names"
else
	not_ok "tetherd serves the listeners its config file names" \
		"$(cat "$TEST_DIR/srv.log")"
	done_testing
	exit 1
fi
from() { # SOURCE-ADDRESS URL: the status a client at that address gets
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		--interface "$1" --cacert "$d/ca.pem" "$2"
}
check_eq "an address inside allow is served" 200 "$(from 127.0.0.2 "$URL/adv")"

# The process: not root, no way back, filtered.
status=/proc/$srv_PID/status
uid=$(id -u "$SERVICE_USER")
check_eq "it runs as the service user (real, effective, saved, fs uid)" \
	"$uid $uid $uid $uid" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$status")"
check_eq "... with no supplementary groups" "" \
	"$(awk '/^Groups:/ {$1 = ""; print}' "$status" | tr -d ' ')"
check_eq "... no capabilities" 0000000000000000 \
	"$(awk '/^CapEff:/ {print $2}' "$status")"
check_eq "... no_new_privs set" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "$status")"
check_eq "... under a seccomp filter" 2 "$(awk '/^Seccomp:/ {print $2}' "$status")"
check_eq "the keys it created belong to the service user" "$SERVICE_USER" \
	"$(stat -c %U "$TEST_DIR"/keys/*.jwk | sort -u)"

fingerprint() { # PORT: the SHA-256 of the certificate a new connection gets
	openssl s_client -connect "127.0.0.1:$1" -CAfile "$d/ca.pem" </dev/null \
		2>/dev/null | openssl x509 -noout -fingerprint -sha256
}
first=$(openssl x509 -noout -fingerprint -sha256 -in "$d/first.pem")
second=$(openssl x509 -noout -fingerprint -sha256 -in "$d/second.pem")
check_eq "https serves the first certificate" "$first" "$(fingerprint "$TPORT")"

# A client holding connections open over HTTP and HTTPS across a reload
# that narrows allow and changes the certificate.
cat >"$TEST_DIR/keepalive.py" <<'EOF'
import http.client, os, signal, ssl, sys, time
pid, port, tport, ca, flag = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
plain = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                   source_address=("127.0.0.2", 0))
tls = http.client.HTTPSConnection("127.0.0.1", tport, timeout=5,
                                  context=ssl.create_default_context(cafile=ca))
def get(c):
    c.request("GET", "/adv")
    r = c.getresponse()
    r.read()
    return r.status, c.sock.getsockname()
a, b = get(plain), get(tls)
os.kill(pid, signal.SIGHUP)
for _ in range(100):   # until the server says it reloaded, at most 10 s
    if os.path.exists(flag) and "reloaded settings" in open(flag).read():
        break
    time.sleep(0.1)
a2, b2 = get(plain), get(tls)
print(a[0], b[0], a2[0], b2[0], a[1] == a2[1], b[1] == b2[1])
EOF
write_conf 127.0.0.1/32
# As a renewal hook would: new contents, the files' owner (the service
# user, since tetherd took them over) unchanged.
cp "$d/second.pem" "$d/srv.pem"
cp "$d/second.key" "$d/srv.key"
check_eq "connections open before SIGHUP go on, same sockets, on the old settings" \
	"200 200 200 200 True True" \
	"$(timeout 30 python3 "$TEST_DIR/keepalive.py" "$srv_PID" "$PORT" "$TPORT" \
	"$d/ca.pem" "$TEST_DIR/srv.log" 2>&1)"
check "the reload is logged" grep -q "reloaded settings from $conf" "$TEST_DIR/srv.log"
check_eq "a new connection from outside the new allow is closed" 000 \
	"$(from 127.0.0.2 "$URL/adv")"
check_eq "... one from inside it is served" 200 "$(from 127.0.0.1 "$URL/adv")"
check_eq "new https connections get the new certificate" "$second" \
	"$(fingerprint "$TPORT")"

# A bad file on reload: logged, and everything stays as it was.
printf 'threads = -1\n' >>"$conf"
kill -HUP "$srv_PID"
check "a bad reload is logged with its line" \
	wait_for "reload failed" grep -q "tetherd.conf:9: threads" "$TEST_DIR/srv.log"
check "... and says the running settings stay" \
	grep -q "reload failed: still serving with the running settings" "$TEST_DIR/srv.log"
check_eq "... the allow-list stays" 000 "$(from 127.0.0.2 "$URL/adv")"
check_eq "... and it still serves" 200 "$(from 127.0.0.1 "$URL/adv")"
check_eq "... with the certificate it had" "$second" "$(fingerprint "$TPORT")"

# A reload that fails late (a key file gone) after asking for a new keys
# directory: the keys stay, then a good reload works as before.
write_conf 127.0.0.1/32
sed -i "s|^keys = .*|keys = $TEST_DIR/elsewhere|; s|^tls-key = .*|tls-key = $d/gone.key|" "$conf"
kill -HUP "$srv_PID"
check "a reload naming another keys directory says it needs a restart" \
	wait_for "restart" grep -q "keys and user change only on restart" \
	"$TEST_DIR/srv.log"
check "... and one with a missing TLS key fails, naming it" \
	grep -q "gone.key: No such file" "$TEST_DIR/srv.log"
write_conf 127.0.0.1/32
n=$(grep -c "reloaded keys (SIGHUP)" "$TEST_DIR/srv.log")
kill -HUP "$srv_PID"
check "a good reload after it works" wait_for "reloaded" sh -c \
	"[ \$(grep -c 'reloaded keys (SIGHUP)' '$TEST_DIR/srv.log') -gt $n ]"
check "... from the keys directory it had" \
	grep -q "reloaded keys (SIGHUP): 2 advertised" "$TEST_DIR/srv.log"
check_eq "... and serves" 200 "$(from 127.0.0.1 "$URL/adv")"
check_log_clean srv "$srv_PID"

# Flags win over the file: a --listen replaces the file's listeners.
write_conf 127.0.0.0/8
P2=$(free_port)
"$TETHERD" serve --config "$conf" --listen "http://127.0.0.1:$P2" \
	--threads 1 >"$TEST_DIR/flags.log" 2>&1 &
flags_PID=$!
test_pids+=("$flags_PID")
check "a --listen flag is served" wait_http "http://127.0.0.1:$P2/adv"
check_eq "... instead of the file's listeners" 000 \
	"$(from 127.0.0.1 "$URL/adv")"
check "... and --threads 1 over the file's 2" \
	grep -q "with 1 threads per listener" "$TEST_DIR/flags.log"
check_log_clean flags "$flags_PID"

# Connections per address: two idle ones from 127.0.0.1 use up its share;
# a third from it is served, the one that waited longest closed to make
# room; one from 127.0.0.2 is served.
P3=$(free_port)
"$TETHERD" serve --keys "$TEST_DIR/keys" --listen "http://127.0.0.1:$P3" \
	--max-connections-per-address 2 --timeout 30 >"$TEST_DIR/cap.log" 2>&1 &
cap_PID=$!
test_pids+=("$cap_PID")
wait_http "http://127.0.0.1:$P3/adv"
cat >"$TEST_DIR/cap.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def conn(src):
    return socket.create_connection(("127.0.0.1", port), timeout=5,
                                    source_address=(src, 0))
def answered(s):
    try:
        s.sendall(b"GET /adv HTTP/1.1\r\nHost: t\r\n\r\n")
        return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
def closed(s):
    try:
        return s.recv(1) == b""
    except OSError:
        return True
held = [conn("127.0.0.1"), conn("127.0.0.1")]
time.sleep(0.3)
third = answered(conn("127.0.0.1"))
print(third, closed(held[0]), answered(conn("127.0.0.2")))
EOF
check_eq "a third connection from one address is served, its oldest closed; another address is served" \
	"True True True" "$(timeout 30 python3 "$TEST_DIR/cap.py" "$P3" 2>&1)"
check_log_clean cap "$cap_PID"

# Never root: not as --user, not with a user that does not exist.
refuses() { # DESCRIPTION MESSAGE ARGS...
	local desc=$1 want=$2
	shift 2
	if timeout 20 "$TETHERD" serve --keys "$TEST_DIR/keys" \
		--listen "http://127.0.0.1:$(free_port)" "$@" 2>"$TEST_DIR/r.err"; then
		not_ok "$desc"
	else
		check "$desc" grep -q -- "$want" "$TEST_DIR/r.err"
	fi
}
refuses "--user root is refused" "never serves as root" --user root
refuses "a user that does not exist is refused, saying how to make it" \
	"no such user: create it" --user no-such-user-$$
done_testing
