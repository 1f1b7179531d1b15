#!/usr/bin/env bash
# .local server names through tether's one-shot mDNS resolver. Two network
# namespaces made here, joined by a veth pair: tetherd and a small mDNS
# responder in one, tether in the other, where the system resolver knows
# no .local name. A binding to http://NAME.local:PORT encrypts and
# decrypts; what reached the responder was a one-shot query (an ephemeral
# source port, the QU bit, A and AAAA); a name answered over IPv6 with a
# link-local address works too; a name nobody answers for, and
# answers from a port other than 5353 or from off the link, fail naming
# the name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

RESPONDER=$(dirname "$0")/mdns-responder.py
NS_S=tether-mdns-$$-s
NS_C=tether-mdns-$$-c
S_ADDR=192.0.2.1
C_ADDR=192.0.2.2
S_PORT=7500
NAME=keys-$RANDOM.local
BAD_NAME=evil-$RANDOM.local
OFF_NAME=far-$RANDOM.local
V6_NAME=keys6-$RANDOM.local
S_ADDR6=fe80::1
C_ADDR6=fe80::2
OFF_ADDR=198.51.100.1
UNKNOWN=nobody-$RANDOM.local

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null ||
	! command -v python3 >/dev/null; then
	echo "1..0 # SKIP needs root, ip and python3 for network namespaces"
	exit 0
fi

# Only ever the namespaces made here; their veth ends go with them.
netns_cleanup() {
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	return 0
}
trap 'cleanup; netns_cleanup' EXIT

setup_netns() {
	ip netns add "$NS_S" &&
		ip netns add "$NS_C" &&
		ip -n "$NS_S" link add veth-s type veth peer name veth-c \
			netns "$NS_C" &&
		ip -n "$NS_S" addr add "$S_ADDR/24" dev veth-s &&
		ip -n "$NS_S" addr add "$OFF_ADDR/24" dev veth-s &&
		ip -n "$NS_C" addr add "$C_ADDR/24" dev veth-c &&
		ip -n "$NS_S" link set lo up &&
		ip -n "$NS_C" link set lo up &&
		ip -n "$NS_S" link set veth-s up &&
		ip -n "$NS_C" link set veth-c up &&
		# A way back to the off-link address, so that the kernel's
		# reverse-path filter does not drop its answers before tether
		# can judge them.
		ip -n "$NS_C" route add "${OFF_ADDR%.*}.0/24" dev veth-c
}
if ! setup_netns >"$TEST_DIR/netns.log" 2>&1; then
	echo "1..0 # SKIP cannot make network namespaces: $(head -n 1 "$TEST_DIR/netns.log")"
	exit 0
fi
ok "two network namespaces joined by a veth pair"

# Link-local IPv6 addresses of our own, usable at once (no duplicate
# address detection), where the kernel has IPv6.
HAVE_V6=0
if ip -n "$NS_S" -6 addr add "$S_ADDR6/64" dev veth-s nodad \
	>>"$TEST_DIR/netns.log" 2>&1 &&
	ip -n "$NS_C" -6 addr add "$C_ADDR6/64" dev veth-c nodad \
		>>"$TEST_DIR/netns.log" 2>&1; then
	HAVE_V6=1
fi

# tether runs in the client namespace, for trun and recovers alike.
REAL_TETHER=$TETHER
TETHER=$TEST_DIR/tether-in-ns
printf '#!/bin/sh\nexec ip netns exec "%s" "%s" "$@"\n' "$NS_C" \
	"$REAL_TETHER" >"$TETHER"
chmod +x "$TETHER"

PLAIN=$TEST_DIR/plain
head -c 100 /dev/urandom >"$PLAIN"
: >"$TEST_DIR/empty"
d=$TEST_DIR/mdns
mkdir "$d"

# ---------------------------------------------------------------- servers

mkdir -m 0700 "$d/keys"
v6_args=()
if [ "$HAVE_V6" = 1 ]; then
	v6_args=(--listen "http://[::]:$S_PORT")
fi
ip netns exec "$NS_S" "$TETHERD" serve --keys "$d/keys" \
	--listen "http://$S_ADDR:$S_PORT" "${v6_args[@]}" \
	>>"$TEST_DIR/td.log" 2>&1 &
td_PID=$!
test_pids+=("$td_PID")
if wait_for "tetherd answers" ip netns exec "$NS_C" curl -sf -o /dev/null \
	--max-time 1 "http://$S_ADDR:$S_PORT/adv"; then
	ok "tetherd answers in the server namespace"
else
	not_ok "tetherd answers in the server namespace" \
		"$(tail -n 5 "$TEST_DIR/td.log")"
	done_testing
	exit 1
fi

v6_args=()
if [ "$HAVE_V6" = 1 ]; then
	v6_args=(--iface6 veth-s --name6 "$V6_NAME=$S_ADDR6")
fi
ip netns exec "$NS_S" python3 "$RESPONDER" --iface-addr "$S_ADDR" \
	"${v6_args[@]}" \
	--name "$NAME=$S_ADDR" --bad-port "$BAD_NAME=$S_ADDR" \
	--off-link "$OFF_NAME=$S_ADDR" --off-link-addr "$OFF_ADDR" \
	--log "$d/queries" --ready "$d/ready" >>"$TEST_DIR/responder.log" 2>&1 &
test_pids+=("$!")
if wait_for "the responder is ready" test -s "$d/ready"; then
	ok "the mDNS responder listens in the server namespace"
else
	not_ok "the mDNS responder listens in the server namespace" \
		"$(tail -n 5 "$TEST_DIR/responder.log")"
	done_testing
	exit 1
fi

# Without mDNS the name is unknown in the client namespace: what resolves
# it below is tether's own query.
check "the system resolver does not know $NAME" \
	sh -c "! timeout 30 ip netns exec '$NS_C' getent hosts '$NAME'"

thp=$("$TETHERD" keys list --keys "$d/keys")

# ------------------------------------------------------------ round trip

trun "$PLAIN" "$d/a.jwe" encrypt tang \
	"{\"url\":\"http://$NAME:$S_PORT\",\"thp\":\"$thp\"}"
expect_ok "tether encrypt tang to http://NAME.local:PORT"
check "the binding names the .local URL" \
	sh -c "cut -d. -f1 '$d/a.jwe' | jose b64 dec -i- |
		grep -qF 'http://$NAME:$S_PORT'"
recovers "tether decrypt resolves NAME.local again and recovers" tether \
	"$d/a.jwe"
check "the responder saw a one-shot query: ephemeral port, QU, type A" \
	awk -v n="name=$NAME" '$1 != "port=5353" && $2 == "qu=1" &&
		$3 == "type=1" && $4 == n { f = 1 } END { exit !f }' "$d/queries"
check "... and type AAAA in the same query" \
	grep -Eq "qu=1 type=28 name=$NAME$" "$d/queries"
check "... and never from port 5353" \
	sh -c "! grep -q '^port=5353 ' '$d/queries'"

upper=$(printf '%s' "$NAME" | tr '[:lower:]' '[:upper:]').
trun "$PLAIN" "$d/upper.jwe" encrypt tang \
	"{\"url\":\"http://$upper:$S_PORT\",\"thp\":\"$thp\"}"
expect_ok "an upper-case name with a trailing dot resolves too"
recovers "... and its binding decrypts" tether "$d/upper.jwe"

# ------------------------------------------------------------------ IPv6

# A name only answered over IPv6, with a link-local address: usable only
# with the scope of the interface the answer came in on.
if [ "$HAVE_V6" = 1 ]; then
	trun "$PLAIN" "$d/v6.jwe" encrypt tang \
		"{\"url\":\"http://$V6_NAME:$S_PORT\",\"thp\":\"$thp\"}"
	expect_ok "a name answered over IPv6 with a link-local address"
	recovers "... and its binding decrypts" tether "$d/v6.jwe"
	check "... the query went to ff02::fb from an ephemeral port, with QU" \
		awk -v n="name=$V6_NAME" '$1 == "ipv6" && $2 != "port=5353" &&
			$3 == "qu=1" && $4 == "type=28" && $5 == n { f = 1 }
			END { exit !f }' "$d/queries"
	check "... and the answer came over IPv6 only" \
		sh -c "grep -q '^answer ipv6 name=$V6_NAME$' '$d/queries' &&
			! grep -q '^answer from=.* name=$V6_NAME$' '$d/queries'"
else
	ok "# SKIP no IPv6 in the namespaces: $(tail -n 1 "$TEST_DIR/netns.log")"
fi

# --------------------------------------------------------------- failures

TETHER_CONNECT_TIMEOUT=2 trun "$PLAIN" "$d/unknown.out" encrypt tang \
	"{\"url\":\"http://$UNKNOWN:$S_PORT\",\"thp\":\"$thp\"}"
expect_refused "a .local name nobody answers for fails, naming it" \
	"$d/unknown.out" "cannot resolve.*no mDNS answer for $UNKNOWN"
check "... after asking the link for it" \
	grep -q "type=1 name=$UNKNOWN$" "$d/queries"

TETHER_CONNECT_TIMEOUT=2 trun "$PLAIN" "$d/bad.out" encrypt tang \
	"{\"url\":\"http://$BAD_NAME:$S_PORT\",\"thp\":\"$thp\"}"
expect_refused "an answer from a port other than 5353 is ignored" \
	"$d/bad.out" "no mDNS answer for $BAD_NAME"
check "... which the responder did send" \
	grep -q "^answer from=other name=$BAD_NAME$" "$d/queries"

TETHER_CONNECT_TIMEOUT=2 trun "$PLAIN" "$d/off.out" encrypt tang \
	"{\"url\":\"http://$OFF_NAME:$S_PORT\",\"thp\":\"$thp\"}"
expect_refused "an answer from outside the link's subnet is ignored" \
	"$d/off.out" "no mDNS answer for $OFF_NAME"
check "... which the responder did send" \
	grep -q "^answer from=off-link name=$OFF_NAME$" "$d/queries"

check_log_clean td "$td_PID"
done_testing
