#!/usr/bin/env bash
# Network policy, proven with clients at real addresses: a server namespace
# joined by two veth pairs to two client namespaces of the test's own, one
# at an allowed address and one at a denied one, over IPv4 and IPv6. Covers
# the global --allow list (refused on accept), per-client allow-lists (403
# for the right token from the wrong place), and the audit lines.
. "$(dirname "$0")/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"

ns=tt$$
SRV=$ns-srv
CLI_OK=$ns-ok
CLI_NO=$ns-no
netns_cleanup() {
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI_OK" 2>/dev/null
	ip netns del "$CLI_NO" 2>/dev/null
	cleanup
}
trap netns_cleanup EXIT

in_ns() { # NS COMMAND...
	local n=$1
	shift
	ip netns exec "$n" "$@"
}

# link CLIENT_NS N: a veth pair from the server to the client on
# 10.77.N.0/24 and fd77:N::/64; the client routes everything to the server.
link() {
	local cli=$1 n=$2
	ip link add "s$n-$ns" netns "$SRV" type veth peer name eth0 netns "$cli" &&
	in_ns "$SRV" ip addr add "10.77.$n.1/24" dev "s$n-$ns" &&
	in_ns "$SRV" ip addr add "fd77:$n::1/64" dev "s$n-$ns" nodad &&
	in_ns "$SRV" ip link set "s$n-$ns" up &&
	in_ns "$cli" ip addr add "10.77.$n.2/24" dev eth0 &&
	in_ns "$cli" ip addr add "fd77:$n::2/64" dev eth0 nodad &&
	in_ns "$cli" ip link set eth0 up &&
	in_ns "$cli" ip link set lo up &&
	in_ns "$cli" ip route add default via "10.77.$n.1" &&
	in_ns "$cli" ip -6 route add default via "fd77:$n::1"
}

if ! { ip netns add "$SRV" && ip netns add "$CLI_OK" &&
	ip netns add "$CLI_NO" && in_ns "$SRV" ip link set lo up &&
	link "$CLI_OK" 1 && link "$CLI_NO" 2; }; then
	not_ok "network namespaces with veth pairs"
	done_testing
	exit 1
fi
ok "a server namespace and two client namespaces"

PORT=$(free_port)
APORT=$(free_port)
mkdir -m 0700 "$TEST_DIR/keys"
C=$TEST_DIR/clients
tok=$("$TETHERD" clients add web1 --allow 10.77.1.2 --allow fd77:1::/64 \
	--clients "$C")
check_eq "clients list shows the client's allow-list" \
	"web1 enabled 10.77.1.2/32,fd77:1::/64" \
	"$("$TETHERD" clients list --clients "$C")"
if "$TETHERD" clients add web2 --allow 10.77.1.2/24 --clients "$C" \
	2>"$TEST_DIR/err"; then
	not_ok "an allow-list block with host bits set is refused"
else
	check "an allow-list block with host bits set is refused, with a reason" \
		grep -q "no host bits" "$TEST_DIR/err"
fi

# One server: a global allow-list on an open listener, and a listener that
# takes credentials with the client's own allow-list (https: tether sends
# a token over nothing else).
pki=$TEST_DIR/pki
test_ca "$pki" && test_cert "$pki" srv 10.77.1.1 IP:10.77.1.1
export CURL_CA_BUNDLE=$pki/ca.pem SSL_CERT_FILE=$pki/ca.pem
ip netns exec "$SRV" "$TETHERD" serve --keys "$TEST_DIR/keys" \
	--allow 10.77.1.2 --allow fd77:1::2 --allow 10.77.2.0/24 \
	--listen-open "http://0.0.0.0:$PORT" --listen-open "http://[::]:$PORT" \
	--clients "$C" --listen "https://10.77.1.1:$APORT" \
	--tls-cert "$pki/srv.pem" --tls-key "$pki/srv.key" \
	--audit-log "$TEST_DIR/audit.log" \
	>"$TEST_DIR/srv.log" 2>&1 &
srv_PID=$!
test_pids+=("$srv_PID")
V4=http://10.77.1.1:$PORT
V6=http://[fd77:1::1]:$PORT
if in_ns "$CLI_OK" bash -c "$(declare -f wait_http); wait_http $V4/adv"; then
	ok "tetherd serves in its namespace"
else
	not_ok "tetherd serves in its namespace" "$(cat "$TEST_DIR/srv.log")"
fi

head -c 32 /dev/urandom >"$TEST_DIR/plain"
encrypt_from() { # NS URL OUT
	in_ns "$1" "$TETHER" encrypt tang "{\"url\":\"$2\"}" -y \
		<"$TEST_DIR/plain" >"$3"
}
decrypts_from() { # NS JWE
	in_ns "$1" env TETHER_TIMEOUT=5 "$TETHER" decrypt <"$2" \
		2>"$TEST_DIR/err" | cmp -s - "$TEST_DIR/plain"
}
refused() { # DESCRIPTION COMMAND...: the command must fail
	local d=$1
	shift
	if "$@"; then not_ok "$d"; else ok "$d"; fi
}

check "an allowed IPv4 address binds" encrypt_from "$CLI_OK" "$V4" "$TEST_DIR/v4.jwe"
check "... and unlocks" decrypts_from "$CLI_OK" "$TEST_DIR/v4.jwe"
check "an allowed IPv6 address binds" encrypt_from "$CLI_OK" "$V6" "$TEST_DIR/v6.jwe"
check "... and unlocks" decrypts_from "$CLI_OK" "$TEST_DIR/v6.jwe"
check_eq "an allowed block admits its other addresses (10.77.2.2 in 10.77.2.0/24)" \
	200 "$(in_ns "$CLI_NO" curl -s -o /dev/null -w '%{http_code}' \
	--max-time 5 "$V4/adv")"
refused "a denied IPv6 address cannot unlock the same binding" \
	decrypts_from "$CLI_NO" "$TEST_DIR/v6.jwe"
check_eq "... its connection is closed with no HTTP answer" 000 \
	"$(in_ns "$CLI_NO" curl -s -o /dev/null -w '%{http_code}' \
	--max-time 5 "$V6/adv")"
check "the refusal is logged with the address" \
	grep -q "fd77:2::2\]:[0-9]* .*not in --allow" "$TEST_DIR/srv.log"

A=https://web1:$tok@10.77.1.1:$APORT
status_from() { # NS URL
	in_ns "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2"
}
check_eq "web1's token from web1's address: 200" 200 \
	"$(status_from "$CLI_OK" "$A/adv")"
check_eq "web1's token from another allowed address: 403" 403 \
	"$(status_from "$CLI_NO" "$A/adv")"
check "web1 binds and unlocks from its address" sh -c \
	"$(declare -f encrypt_from decrypts_from in_ns); TETHER='$TETHER' TEST_DIR='$TEST_DIR';
	encrypt_from '$CLI_OK' '$A' '$TEST_DIR/c.jwe' && decrypts_from '$CLI_OK' '$TEST_DIR/c.jwe'"
refused "web1's binding does not unlock from elsewhere" \
	decrypts_from "$CLI_NO" "$TEST_DIR/c.jwe"
check "tether names the refusal: HTTP 403" grep -q "HTTP 403" "$TEST_DIR/err"

# Rate limits: a bounded burst of recoveries from one address, then
# wrong credentials from another, on a server with small limits.
LPORT=$(free_port)
ip netns exec "$SRV" "$TETHERD" serve --keys "$TEST_DIR/keys" --clients "$C" \
	--listen-open "http://10.77.1.1:$LPORT" \
	--listen "http://10.77.2.1:$LPORT" \
	--rec-rate 6 --rec-burst 3 --auth-fail-rate 6 --auth-fail-burst 2 \
	--audit-log "$TEST_DIR/audit.log" >"$TEST_DIR/lim.log" 2>&1 &
lim_PID=$!
test_pids+=("$lim_PID")
in_ns "$CLI_OK" bash -c "$(declare -f wait_http); wait_http http://10.77.1.1:$LPORT/adv" >/dev/null
kid=$(jwe_kid "$TEST_DIR/v4.jwe")
codes=
for i in 1 2 3 4 5 6; do
	codes="$codes $(in_ns "$CLI_OK" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 -X POST -H 'Content-Type: application/jwk+json' \
		--data '{}' "http://10.77.1.1:$LPORT/rec/$kid")"
done
check_eq "six recoveries at once, burst 3: three answered, then 429" \
	" 400 400 400 429 429 429" "$codes"
check "a 429 says when to come back (Retry-After, seconds)" sh -c \
	"ip netns exec '$CLI_OK' curl -s -D - -o /dev/null --max-time 5 -X POST \
	--data '{}' 'http://10.77.1.1:$LPORT/rec/$kid' |
	grep -Eiq '^Retry-After: [1-9][0-9]*'"
check_eq "another address is not held back by the first one's limit" 400 \
	"$(in_ns "$CLI_NO" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	-X POST --data '{}' "http://10.77.1.1:$LPORT/rec/$kid")"
codes=
for i in 1 2 3 4; do
	codes="$codes $(in_ns "$CLI_NO" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 "http://web1:wrong$i@10.77.2.1:$LPORT/adv")"
done
check_eq "wrong tokens: 401 twice (burst 2), then 429" " 401 401 429 429" "$codes"
check_eq "... and the address is refused even with the right token" 429 \
	"$(in_ns "$CLI_NO" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	"http://web1:$tok@10.77.2.1:$LPORT/adv")"
check "rate-limited requests are audited as denials" sh -c \
	"jq -e -s 'any(.event == \"denied\" and .status == 429 and
	.reason == \"recovery rate limit\")' '$TEST_DIR/audit.log' >/dev/null &&
	jq -e -s 'any(.status == 429 and
	.reason == \"too many failed authentications\")' '$TEST_DIR/audit.log' >/dev/null"
check "wrong credentials are audited with the name claimed" sh -c \
	"jq -e -s 'any(.event == \"denied\" and .status == 401 and
	.client == \"web1\" and .reason == \"wrong credentials\")' \
	'$TEST_DIR/audit.log' >/dev/null"
check "no wrong token reaches the audit file" sh -c \
	"! grep -q wrong1 '$TEST_DIR/audit.log'"
check_log_clean lim "$lim_PID"

# The audit trail: one JSON object per line, recoveries and denials.
audit=$TEST_DIR/audit.log
check "every audit line is a JSON object" sh -c \
	"test -s '$audit' && jq -e -s 'all(type == \"object\")' '$audit' >/dev/null"
check "a recovery is audited with address, key id and outcome" sh -c \
	"jq -e -s 'any(.event == \"recovery\" and .outcome == \"ok\" and
	.address == \"10.77.1.2\" and (.kid | length) > 0 and (.time | length) > 0)' \
	'$audit' >/dev/null"
check "a client's recovery names the client" sh -c \
	"jq -e -s 'any(.event == \"recovery\" and .client == \"web1\")' '$audit' >/dev/null"
check "the refused connection is audited as a denial with its reason" sh -c \
	"jq -e -s 'any(.event == \"denied\" and .address == \"fd77:2::2\" and
	.reason == \"address not allowed\")' '$audit' >/dev/null"
check "the client refused elsewhere is audited with its name and status" sh -c \
	"jq -e -s 'any(.event == \"denied\" and .client == \"web1\" and
	.address == \"10.77.2.2\" and .status == 403)' '$audit' >/dev/null"
check "the audit lines go to stderr too" sh -c \
	"grep -q '\"event\":\"recovery\"' '$TEST_DIR/srv.log'"
check "no token in the audit file or the log" sh -c \
	"! grep -qF -- '$tok' '$audit' && ! grep -qF -- '$tok' '$TEST_DIR/srv.log'"
check_log_clean srv "$srv_PID"

done_testing
