#!/usr/bin/env bash
# Slow and half-closed clients cannot deny service: a flood of connections
# trickling their headers from several addresses leaves a legitimate client
# served; a request has a deadline however its bytes trickle; connections
# whose peer closed its side mid-request are reclaimed at once; a full
# share of connections from one address (a NAT) does not lock out a new
# client there; IPv6 addresses share that cap per /64.
. "$(dirname "$0")/lib.sh"

SLOW=$(dirname "$0")/slow-clients.py
keys=$TEST_DIR/keys
mkdir -m 0700 "$keys"

# established PORT [PEER]: the server's established connections on PORT,
# from PEER if given.
established() {
	if [ -n "${2-}" ]; then
		ss -Htn state established "( sport = :$1 and dst $2 )" | wc -l
	else
		ss -Htn state established "( sport = :$1 )" | wc -l
	fi
}
at_least() { # N COMMAND...: COMMAND prints a number >= N
	local n=$1
	shift
	[ "$("$@")" -ge "$n" ]
}
none_close_wait() { # PORT: no connection of the server's has a peer
	# that hung up waiting for the server to close it
	[ "$(ss -Htn state close-wait "( sport = :$1 )" | wc -l)" -eq 0 ]
}
# start_slow NAME MODE ARGS...: slow-clients.py in the background, its
# output in $TEST_DIR/NAME.out; sets NAME_pid.
start_slow() {
	local name=$1
	shift
	timeout 120 python3 "$SLOW" "$@" >"$TEST_DIR/$name.out" 2>&1 &
	eval "${name}_pid=$!"
	test_pids+=("$!")
}
ready() { # NAME: the slow clients NAME have made their connections
	grep -qx ready "$TEST_DIR/$1.out"
}
stop_slow() { # PID...
	kill "$@" 2>/dev/null
	wait "$@" 2>/dev/null
	return 0
}

# legit_requests N URL: N requests from 127.0.0.99 one after another, a
# GET /adv and a recovery in turn, each with a generous time; prints how
# many were answered with 200.
legit_requests() {
	local n=$1 url=$2 ok=0 i code
	for i in $(seq 1 "$n"); do
		if [ $((i % 2)) -eq 0 ]; then
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 \
				--interface 127.0.0.99 \
				--data-binary "@$TEST_DIR/req.jwk" "$url/rec/$exc")
		else
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 \
				--interface 127.0.0.99 "$url/adv")
		fi
		[ "$code" = 200 ] && ok=$((ok + 1))
	done
	echo "$ok"
}

# (a) 150 connections from five addresses, each sending a header byte
# every 2 s (so the idle timeout never fires) and reconnecting when
# closed, against a cap of 100: 30 per address stay under the 64 an
# address may hold, so only the listener's cap is in play.
start_tetherd flood "$keys" --max-connections 100 \
	--max-connections-per-address 64 ||
	{ not_ok "tetherd starts"; done_testing; exit 1; }
exc=$(key_thps "$keys" deriveKey)
jose jwk gen -i '{"alg":"ECMR","crv":"P-521"}' |
	jose jwk pub -i- -o "$TEST_DIR/req.jwk"
start_slow attack flood "$PORT" 100 2 30 \
	127.0.1.1 127.0.1.2 127.0.1.3 127.0.1.4 127.0.1.5
check "the slow clients hold the listener's cap of 100" \
	wait_for "cap" at_least 100 established "$PORT"
check_eq "a legitimate client gets all of its 6 requests answered meanwhile" \
	6 "$(legit_requests 6 "$URL")"
check "... while the flood still went on" kill -0 "$attack_pid"
stop_slow "$attack_pid"
check "tetherd still runs after the flood" kill -0 "$flood_PID"

# (b) A request must arrive whole in --request-timeout seconds, however
# often its bytes come: a byte a second against an idle timeout of 60 s.
start_tetherd deadline "$keys" --timeout 60 --request-timeout 2 ||
	{ not_ok "tetherd --request-timeout 2 starts"; done_testing; exit 1; }
check "a request trickling a byte a second is closed at its deadline" \
	timeout 60 python3 "$SLOW" trickle "$PORT" 30 1
check "... and the log says so" wait_for "log" grep -q \
	"no valid request before the connection closed (request overdue)" \
	"$TEST_DIR/deadline.log"

# (c) Half-closed half-requests: gone at once, not after the timeouts
# (120 s each here).
start_tetherd halfclose "$keys" --timeout 120 --request-timeout 120 ||
	{ not_ok "tetherd --timeout 120 starts"; done_testing; exit 1; }
start_slow half half-close "$PORT" 90 20
check "20 clients send half a request and shut down their side" \
	wait_for "half" ready half
check "tetherd lets them all go, none left in CLOSE-WAIT" \
	wait_for "reclaimed" none_close_wait "$PORT"
check_eq "... nor established" 0 "$(established "$PORT")"
stop_slow "$half_pid"
check_eq "whole requests sent with the client's side shut down: all 200 answered and let go" \
	200 "$(timeout 100 python3 "$SLOW" whole-then-shut "$PORT" 90 200)"

# (d) One address (a NAT) holding its full share of 8 idle connections
# does not lock a new client there out: its longest waiting one makes
# room. A connection from elsewhere, older still, is left alone.
start_tetherd nat "$keys" --max-connections-per-address 8 --timeout 120 \
	--request-timeout 120 ||
	{ not_ok "tetherd --max-connections-per-address 8 starts"; done_testing; exit 1; }
start_slow other hold "$PORT" 90 1 127.0.2.2
check "a connection from 127.0.2.2 is open" wait_for "other" ready other
start_slow behind_nat hold "$PORT" 90 8 127.0.2.1
check "8 idle connections from 127.0.2.1 are open" \
	wait_for "nat" ready behind_nat
check_eq "... all 8 accepted" 8 "$(established "$PORT" 127.0.2.1)"
check_eq "a new client at 127.0.2.1 is served" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 \
		--interface 127.0.2.1 "$URL/adv")"
check_eq "... and another" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 \
		--interface 127.0.2.1 "$URL/adv")"
check "127.0.2.1 holds no more than its 8" \
	test "$(established "$PORT" 127.0.2.1)" -le 8
check_eq "the connection from 127.0.2.2 is still open" 1 \
	"$(established "$PORT" 127.0.2.2)"
check "the log names the connections closed to make room" wait_for "log" \
	grep -q "^127\.0\.2\.1:.* (closed to make room)$" "$TEST_DIR/nat.log"
stop_slow "$behind_nat_pid" "$other_pid"

# (e) Started with a soft limit of 256 open files (systemd's default is
# 1024), tetherd raises it to what its caps need (1024 connections here)
# so that accept does not fail before the caps can make room.
soft=$(ulimit -Sn)
ulimit -Sn 256
start_tetherd fds "$keys" ||
	{ not_ok "tetherd starts with 256 open files"; done_testing; exit 1; }
ulimit -Sn "$soft"
check "tetherd raised its open files limit above 1024" test \
	"$(awk '/^Max open files/ { print $4 }' "/proc/$fds_PID/limits")" -gt 1024

# (f) IPv6 shares a cap per /64 (one host's share of a link): in a
# network namespace of the test's own, two connections from fd00:77::2
# fill the cap of 2; a client at fd00:77::3 makes room in that /64, and
# leaves the one from another /64 alone.
ns=tts$$
netns_cleanup() {
	ip netns del "$ns" 2>/dev/null
	cleanup
}
trap netns_cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }
if ip netns add "$ns" && in_ns ip link set lo up &&
	in_ns ip addr add fd00:77::1/128 dev lo nodad &&
	in_ns ip addr add fd00:77::2/128 dev lo nodad &&
	in_ns ip addr add fd00:77::3/128 dev lo nodad &&
	in_ns ip addr add fd00:77:0:1::1/128 dev lo nodad; then
	ok "a network namespace with addresses in two /64s"
else
	not_ok "a network namespace with addresses in two /64s"
	done_testing
	exit 1
fi
P6=$(free_port)
U6="http://[fd00:77::1]:$P6"
ip netns exec "$ns" "$TETHERD" serve --keys "$keys" --listen "$U6" \
	--max-connections-per-address 2 --timeout 120 --request-timeout 120 \
	>"$TEST_DIR/v6.log" 2>&1 &
v6_PID=$!
test_pids+=("$v6_PID")
check "tetherd serves at $U6" wait_for "v6" \
	in_ns curl -sf -o /dev/null --max-time 1 "$U6/adv"
from6() { # NAME SOURCE N: N held connections from SOURCE in the namespace
	SLOW_TARGET=fd00:77::1 ip netns exec "$ns" timeout 120 python3 "$SLOW" \
		hold "$P6" 90 "$3" "$2" >"$TEST_DIR/$1.out" 2>&1 &
	test_pids+=("$!")
}
held6() { # SOURCE: the server's established connections from SOURCE
	in_ns ss -Htn state established "( sport = :$P6 and dst [$1] )" | wc -l
}
from6 other6 fd00:77:0:1::1 1
check "a connection from fd00:77:0:1::1 is open" wait_for "o6" ready other6
from6 same6 fd00:77::2 2
check "two from fd00:77::2 are open" wait_for "s6" ready same6
check_eq "... both held" 2 "$(held6 fd00:77::2)"
check_eq "a client at fd00:77::3 is served" 200 \
	"$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 15 \
		--interface fd00:77::3 "$U6/adv")"
check_eq "... and fd00:77::2, in its /64, holds one connection now" 1 \
	"$(held6 fd00:77::2)"
check_eq "... while the one from fd00:77:0:1::1 stays" 1 \
	"$(held6 fd00:77:0:1::1)"

for name in flood deadline halfclose nat fds v6; do
	pid_var=${name}_PID
	check_log_clean "$name" "${!pid_var}"
done
done_testing
