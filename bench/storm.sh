#!/bin/bash
# Boot storm: STORM_CLIENTS machines (default 1000), each from its own
# loopback address (127.0.0.0/8 is all loopback), fetch /adv and recover
# a key at the same moment, as a fleet does after a power cut; once
# against tetherd and once against Debian's tangd, on one keys directory.
# bench/storm.c is the fleet; every reply is checked to recover the
# binding's secret. Prints errors, latency and the time to serve them all,
# never a pass/fail status: the exit status is non-zero only when the
# benchmark itself could not run.
#
# Environment:
#   TETHERD        tetherd binary (default: build/src/server/tetherd)
#   STORM          the fleet (default: build/bench/storm, built if absent)
#   TANGD, TANGD_KEYGEN  Debian's tang (defaults in bench/lib.sh)
#   STORM_CLIENTS  clients at once (default: 1000)
#   STORM_SECONDS  bound on each storm; clients unserved by then count as
#                  errors (default: 180)
set -eu -o pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
STORM_CLIENTS=${STORM_CLIENTS:-1000}
STORM_SECONDS=${STORM_SECONDS:-180}
is_count "$STORM_CLIENTS" || die "STORM_CLIENTS must be a positive integer"
is_count "$STORM_SECONDS" || die "STORM_SECONDS must be a positive integer"
need_tools socat curl ss awk setsid timeout
need_built TETHERD
STORM=${STORM:-$(bench_program storm)}
[ -x "$STORM" ] || die "$STORM is not an executable"

mkdir "$SCRATCH/keys"
"$TANGD_KEYGEN" "$SCRATCH/keys" >/dev/null 2>&1 || die "tangd-keygen failed"
service_keys "$SCRATCH/keys"
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)

declare -A result
# storm NAME PORT: one storm against the server on 127.0.0.1:PORT.
storm() {
	local out
	out=$(timeout $((STORM_SECONDS + 120)) "$STORM" "$2" "$STORM_CLIENTS" \
		"$STORM_SECONDS" 2>"$SCRATCH/storm.err") ||
		die "storm against $1 failed: $(head -c 1000 "$SCRATCH/storm.err")"
	result[$1]=$out
}

# field NAME KEY: one key=value figure of a storm's line.
field() {
	printf '%s\n' "${result[$1]}" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# tetherd as deployed: its default threads, limits and rate limits (per
# address, and every client has its own address).
port=$(free_port)
start_server tetherd "$TETHERD" serve --keys "$SCRATCH/keys" \
	--listen "http://127.0.0.1:$port"
wait_ready "$SERVER_PID" "http://127.0.0.1:$port/adv" ||
	die "tetherd did not start: $(cat "$SCRATCH/tetherd.log")"
echo "storm of $STORM_CLIENTS clients against tetherd..." >&2
storm tetherd "$port"
kill -- "-$SERVER_PID" 2>/dev/null || true

# tangd as tangd.socket runs it: a process per connection (socat's fork
# here), with tetherd's listen backlog (1024) and TCP_NODELAY (without it
# every tangd response also stalls about 40 ms; see bench/server.sh).
port=$(free_port)
start_server tangd socat \
	"TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=1024" \
	"EXEC:$TANGD $SCRATCH/keys"
wait_ready "$SERVER_PID" "http://127.0.0.1:$port/adv" ||
	die "tangd (socat) did not start: $(cat "$SCRATCH/tangd.log")"
echo "storm of $STORM_CLIENTS clients against tangd (may take a minute)..." >&2
storm tangd "$port"

ratio() { # A B: A / B to one decimal, "-" when either is not a number
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b + 0 == 0) print "-"; else printf "%.1f\n", a / b }'
}

echo
echo "boot storm: $STORM_CLIENTS clients at once, each from its own 127.x.y.z,"
echo "  GET /adv then POST /rec/KID on two connections; every reply checked"
echo "machine: $(nproc) cores, Linux $(uname -r); load average before: $LOAD_BEFORE"
if awk -v l="$LOAD_BEFORE" -v c="$(nproc)" 'BEGIN { exit !(l > c / 2) }'; then
	echo "WARNING: the machine was busy before the run; every number is suspect"
fi
echo "servers on 127.0.0.1: $("$TETHERD" --version) (defaults); tangd" \
	"$(dpkg-query -W -f '${Version}' tang 2>/dev/null || echo '?')" \
	"under socat fork, backlog 1024, TCP_NODELAY"
echo
fmt='%-8s | %6s | %8s | %9s | %9s | %9s | %s\n'
# shellcheck disable=SC2059 # the format is a constant
printf "$fmt" server errors served "p50 ms" "p99 ms" "total ms" "errors by kind"
for name in tetherd tangd; do
	# shellcheck disable=SC2059
	printf "$fmt" "$name" "$(field "$name" errors)" "$(field "$name" ok)" \
		"$(field "$name" p50_ms)" "$(field "$name" p99_ms)" \
		"$(field "$name" total_ms)" \
		"$(printf '%s\n' "${result[$name]}" | tr ' ' '\n' |
			grep -E '^(connect|io|status|timeout|wrong)=' | tr '\n' ' ')"
done
echo
echo "tangd/tetherd: p50 $(ratio "$(field tangd p50_ms)" "$(field tetherd p50_ms)")x," \
	"p99 $(ratio "$(field tangd p99_ms)" "$(field tetherd p99_ms)")x," \
	"time to serve all $(ratio "$(field tangd total_ms)" "$(field tetherd total_ms)")x"
echo "target: 0 errors for tetherd -> $(
	[ "$(field tetherd errors)" = 0 ] && echo met || echo 'NOT met')"
# tetherd's log: request lines counted by status, audit lines by outcome,
# anything else but its start-up lines shown (a few).
awk '$2 ~ /^(GET|POST)$/ && $4 ~ /^[0-9][0-9][0-9]$/ { s[$4]++; next }
	/"event":"recovery"/ { match($0, /"outcome":"[a-z_]*"/); o[substr($0, RSTART + 11, RLENGTH - 12)]++; next }
	/^tetherd: (listening on|serving|running as) / { next }
	{ n++; if (n <= 5) print "tetherd log: " $0 }
	END { line = ""; for (k in s) line = line " " k "=" s[k]
		print "tetherd log, requests by status:" line
		line = ""; for (k in o) line = line " " k "=" o[k]
		print "tetherd audit log, recoveries by outcome:" line
		if (n > 5) print "tetherd log: ... " n - 5 " more" }' "$SCRATCH/tetherd.log"
