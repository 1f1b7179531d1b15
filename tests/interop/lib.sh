# Shared by the interop tests: TAP output, scratch space, servers on
# loopback ports that are free, and clean-up of everything started.
# shellcheck shell=bash
set -u

: "${TETHERD:?TETHERD must name the tetherd binary}"
TANGD=${TANGD:-/usr/libexec/tangd}
TANGD_KEYGEN=${TANGD_KEYGEN:-/usr/libexec/tangd-keygen}

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tether-test.XXXXXX")
# tetherd started as root serves as this user; it must reach the files a
# test gives it (it takes over the ones root owns).
SERVICE_USER=${SERVICE_USER:-tether}
if [ "$(id -u)" -eq 0 ]; then
	id "$SERVICE_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$SERVICE_USER"
	chmod 755 "$TEST_DIR"
fi
tap_count=0
tap_failed=0
test_pids=()

cleanup() {
	local pid
	for pid in "${test_pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${test_pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TEST_DIR"
}
trap cleanup EXIT

ok() { # DESCRIPTION
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $1"
}

not_ok() { # DESCRIPTION [DETAIL...]
	tap_count=$((tap_count + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_count - $1"
	shift
	local detail
	# Every line of a detail is a TAP comment, however many it has.
	for detail in "$@"; do
		printf '%s\n' "$detail" | sed 's/^/# /'
	done
}

skip() { # DESCRIPTION REASON: for an optional host feature that is absent
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $1 # SKIP $2"
}

# check DESCRIPTION COMMAND...: one TAP line from a command's exit status.
check() {
	local desc=$1
	shift
	if "$@" >"$TEST_DIR/check.out" 2>&1; then
		ok "$desc"
	else
		not_ok "$desc" "command failed: $*" \
			"$(head -c 2000 "$TEST_DIR/check.out")"
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: $2" "actual:   $3"
	fi
}

done_testing() {
	echo "1..$tap_count"
	[ "$tap_failed" -eq 0 ]
}

# Prints a TCP port that no socket uses now, in any state, below the
# ephemeral range (32768-60999 by default): there an outgoing connection
# could take it between this check and the bind, or hold it in TIME-WAIT
# while a server that is stopped and started again on it is down.
free_port() {
	local low port tries=0
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	case $low in '' | *[!0-9]*) low=32768 ;; esac
	[ "$low" -gt 11024 ] || low=32768
	while [ $tries -lt 200 ]; do
		port=$((low - 12000 + RANDOM % 12000))
		if ! ss -Htan "sport = :$port" | grep -q .; then
			echo "$port"
			return 0
		fi
		tries=$((tries + 1))
	done
	return 1
}

# wait_http URL: until something answers HTTP there, at most 10 s.
wait_http() {
	local i
	for i in $(seq 1 100); do
		if curl -s -o /dev/null --max-time 1 "$1"; then
			return 0
		fi
		sleep 0.1
	done
	echo "nothing answers at $1" >&2
	return 1
}

# start_tetherd NAME KEYDIR [ARGS...]: starts tetherd on a free port (or on
# $WANT_PORT), logging to $TEST_DIR/NAME.log; sets PORT, URL and NAME_PID.
# Rate limits and per-address caps are off (every client is 127.0.0.1).
start_tetherd() {
	local name=$1 keys=$2
	shift 2
	PORT=${WANT_PORT:-$(free_port)} || return 1
	URL=http://127.0.0.1:$PORT
	# Every test client is 127.0.0.1: per-address limits are off unless
	# a test sets them (policy.sh does); later flags win.
	"$TETHERD" serve --keys "$keys" --listen "$URL" --rec-rate 0 \
		--max-connections-per-address 0 "$@" \
		>>"$TEST_DIR/$name.log" 2>&1 &
	eval "${name}_PID=$!"
	test_pids+=("$!")
	wait_http "$URL/adv"
}

# start_tangd NAME KEYDIR: real tangd, one process per connection as
# systemd's tangd.socket runs it; sets PORT, URL and NAME_PID.
start_tangd() {
	start_per_connection "$1" "$TANGD $2"
}

# start_per_connection NAME COMMAND: COMMAND run by socat for each
# connection, as inetd or systemd's Accept=yes would; sets PORT, URL and
# NAME_PID.
start_per_connection() {
	local name=$1
	PORT=${WANT_PORT:-$(free_port)} || return 1
	URL=http://127.0.0.1:$PORT
	socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" \
		"EXEC:$2" >>"$TEST_DIR/$name.log" 2>&1 &
	eval "${name}_PID=$!"
	test_pids+=("$!")
	wait_http "$URL/adv"
}

stop_pid() { # PID: stops a server and waits for it
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# http_status METHOD URL [curl args...]: prints the status code only.
http_status() {
	local method=$1 url=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$method" "$@" "$url"
}

# adv_signing_thps URL: the S256 thumbprints of the signing keys the
# advertisement at URL carries, as tang-show-keys prints them.
adv_signing_thps() {
	local adv
	adv=$(curl -sSf "$1/adv") || return 1
	jose fmt --json "$adv" -g payload -y -o- |
		jose jwk use -i- -r -u verify -o- |
		jose jwk thp -i- -a S256
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND for at most 10 s.
wait_for() {
	local i
	shift
	for i in $(seq 1 100); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# jwe_kid FILE: the kid clevis's tang pin recorded in a compact JWE.
jwe_kid() {
	jose fmt -j "$(cut -d. -f1 "$1" | jose b64 dec -i-)" -g kid -u-
}

# key_thp KEYDIR USE: S256 thumbprints of the advertised keys for USE
# (verify: signing keys, deriveKey: exchange keys), one per line.
key_thps() {
	local f
	for f in "$1"/*.jwk; do
		if jose jwk use -i "$f" -u "$2" 2>/dev/null; then
			jose jwk thp -i "$f" -a S256
			echo
		fi
	done
}

# check_log_clean NAME PID: stops the server and asserts it exited cleanly
# with no sanitizer report (leaks are reported at exit) in its log.
check_log_clean() {
	local name=$1 pid=$2 status=0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || status=$?
	check_eq "$name exits 0 on SIGTERM" 0 "$status"
	check "$name's log has no sanitizer report" \
		sh -c "! grep -E 'Sanitizer|runtime error' '$TEST_DIR/$name.log'"
}

# test_ca DIR: a P-256 test CA, DIR/ca.pem and DIR/ca.key.
test_ca() {
	mkdir -p "$1" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/ca.key" -out "$1/ca.pem" -days 2 \
		-subj /CN=tether-test-ca 2>/dev/null
}

# test_cert DIR NAME CN SAN: DIR/NAME.pem signed by DIR's test CA, and
# its key DIR/NAME.key, mode 0600.
test_cert() {
	local d=$1 name=$2
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$3" \
		2>/dev/null &&
	printf 'subjectAltName=%s\n' "$4" >"$d/$name.ext" &&
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null &&
	chmod 600 "$d/$name.key"
}

# start_standin NAME KEYDIR: tetherd as tangd, one process per connection
# (tetherd KEYDIR under socat, as start_tangd); sets PORT, URL, NAME_PID.
start_standin() {
	start_per_connection "$1" "$TETHERD $2"
}

# rec_status URL KID: the status POST /rec/KID answers with the public
# half of a fresh ECMR key.
rec_status() {
	[ -s "$TEST_DIR/rec-req.jwk" ] ||
		jose jwk gen -i '{"alg":"ECMR"}' |
		jose jwk pub -i- -o "$TEST_DIR/rec-req.jwk"
	http_status POST "$1/rec/$2" -H 'Content-Type: application/jwk+json' \
		--data-binary "@$TEST_DIR/rec-req.jwk"
}

# service_dir DIR: a directory of mode 0700 that tetherd, started as root
# and serving as $SERVICE_USER, can write to (as /var/lib/tether is).
service_dir() {
	mkdir -m 0700 "$1" || return 1
	[ "$(id -u)" -ne 0 ] || chown "$SERVICE_USER" "$1"
}
