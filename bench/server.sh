#!/bin/bash
# Server benchmark: tetherd against Debian's tangd, in one run on 127.0.0.1.
#
# All servers serve the same keys directory. wrk measures GET /adv and
# POST /rec/{kid} at each connection count; `openssl speed ecdhp521`
# measures the physical limit of a recovery (one P-521 point multiplication).
# The output is tables and ratios, never a pass/fail exit status: the exit
# status is non-zero only when the benchmark itself could not run.
#
# Environment:
#   TETHERD        tetherd binary (default: build/src/server/tetherd, built
#                  with meson and ninja if absent)
#   TANGD          tangd binary (default: /usr/libexec/tangd)
#   TANGD_KEYGEN   (default: /usr/libexec/tangd-keygen)
#   BENCH_SECONDS  duration of each wrk run (default: 5)
#   SPEED_SECONDS  duration of each `openssl speed` run (default: BENCH_SECONDS)
#   CONNECTIONS    connection counts (default: "1 16 64"; the last one is
#                  the row compared with the ECDH limit and the targets)
set -eu -o pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
BENCH_SECONDS=${BENCH_SECONDS:-5}
SPEED_SECONDS=${SPEED_SECONDS:-$BENCH_SECONDS}
CONNECTIONS=${CONNECTIONS:-1 16 64}
CORES=$(nproc)
TICKS=$(getconf CLK_TCK)

is_count "$BENCH_SECONDS" || die "BENCH_SECONDS must be a positive integer"
is_count "$SPEED_SECONDS" || die "SPEED_SECONDS must be a positive integer"
[ -n "$CONNECTIONS" ] || die "CONNECTIONS is empty"
for c in $CONNECTIONS; do
	is_count "$c" || die "CONNECTIONS must be positive integers"
done
need_tools wrk socat jose curl openssl ss awk setsid timeout getconf
need_built TETHERD

# cpu_ticks PGID: CPU time used so far by the process group PGID, in clock
# ticks: what its live members used, plus what the children they reaped
# used (socat reaps the tangd it forked for each connection).
cpu_ticks() {
	# A process may exit between the listing and the read: skip it.
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v g="$1" '
		{
			# Fields after the command name, which may hold spaces:
			# pgrp is the 3rd, then utime, stime, cutime, cstime
			# from the 12th.
			sub(/^.*\) /, "")
			if ($3 == g) t += $12 + $13 + $14 + $15
		}
		END { print t + 0 }'
}

# ms VALUE: a wrk duration (213.00us, 0.94ms, 1.20s, 1.00m) in milliseconds;
# nothing for anything else.
ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000
		else if (u == "s") n *= 1000
		else if (u == "m") n *= 60000
		else if (u != "ms") exit
		printf "%.2f\n", n
	}'
}

# run_wrk NAME PGID CONNS URL [LUA]: one wrk run against the server whose
# process group is PGID; its
# output goes to $SCRATCH/NAME.wrk. Sets RPS, P50, P99 (ms), NON2XX,
# SOCKERR (wrk's text, empty when none) and CPU (cores the server used).
run_wrk() {
	local name=$1 pgid=$2 conns=$3 url=$4 lua=${5:-} out threads t0 t1
	out=$SCRATCH/$name.wrk
	threads=$((conns < 2 ? conns : 2))
	set -- -t "$threads" -c "$conns" -d "${BENCH_SECONDS}s" --latency
	if [ -n "$lua" ]; then
		set -- "$@" -s "$lua"
	fi
	t0=$(cpu_ticks "$pgid")
	timeout $((BENCH_SECONDS + 30)) wrk "$@" "$url" >"$out" 2>&1 ||
		die "wrk failed for $name: $(cat "$out")"
	t1=$(cpu_ticks "$pgid")
	CPU=$(awk -v d=$((t1 - t0)) -v hz="$TICKS" -v s="$BENCH_SECONDS" \
		'BEGIN { printf "%.2f\n", d / hz / s }')
	RPS=$(awk '$1 == "Requests/sec:" { printf "%.0f\n", $2 }' "$out")
	P50=$(ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	P99=$(ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	if [ -z "$RPS" ] || [ -z "$P50" ] || [ -z "$P99" ]; then
		die "cannot parse wrk output for $name: $(cat "$out")"
	fi
	# wrk prints these two lines only when they are not zero; it counts a
	# response as "Non-2xx or 3xx" when its status is 400 or more.
	NON2XX=$(awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$out")
	SOCKERR=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$out")
}

# speed [OPENSSL_ARGS...]: P-521 ECDH operations per second.
speed() {
	local ops
	ops=$(timeout $((SPEED_SECONDS * 2 + 30)) \
		openssl speed -seconds "$SPEED_SECONDS" "$@" ecdhp521 2>/dev/null |
		awk '/ecdh \(nistp521\)/ { printf "%.0f\n", $NF }')
	[ -n "$ops" ] || die "cannot parse openssl speed output"
	echo "$ops"
}

ratio() { # A B: A / B to one decimal, "-" when B is zero
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (b + 0 == 0) print "-"; else printf "%.1f\n", a / b }'
}

percent() { # A B: 100 A / B, "-" when B is zero
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (b + 0 == 0) print "-"; else printf "%.0f\n", 100 * a / b }'
}

met() { # VALUE THRESHOLD
	awk -v v="$1" -v t="$2" 'BEGIN {
		if (v != "-" && v + 0 >= t + 0) print "met"; else print "NOT met" }'
}

# --- keys and request ---------------------------------------------------

KEYS=$SCRATCH/keys
mkdir "$KEYS"
# tangd-keygen may warn that it cannot chown the keys to _tang: harmless.
"$TANGD_KEYGEN" "$KEYS" >/dev/null 2>&1 || die "tangd-keygen failed"
service_keys "$KEYS"

KID=$(exchange_kid "$KEYS")

REQUEST=$SCRATCH/request.jwk
jose jwk gen -i '{"alg":"ECMR"}' | jose jwk pub -i- -o "$REQUEST"

# The body goes into a Lua long string: it is JSON and holds no "]==]".
REC_LUA=$SCRATCH/rec.lua
{
	echo 'wrk.method = "POST"'
	echo 'wrk.headers["Content-Type"] = "application/jwk+json"'
	printf 'wrk.body = [==[%s]==]\n' "$(cat "$REQUEST")"
} >"$REC_LUA"

# --- physical limit, measured while nothing else runs --------------------

# Measured again after the load, and the better of the two kept: a limit is
# a best case, and anything else running on the machine only lowers it.
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
echo "measuring the ECDH limit (openssl speed, ${SPEED_SECONDS}s each)..." >&2
ECDH_1_BEFORE=$(speed)
ECDH_ALL_BEFORE=$(speed -multi "$CORES")

# --- servers --------------------------------------------------------------

# tangd runs twice, one process per connection under socat as tangd.socket
# runs it. tangd writes its status line and the rest of a response in two
# writes; with Nagle's algorithm on (Debian's tangd.socket sets no NoDelay=)
# the second waits for the client's delayed ACK, about 40 ms. "tangd" sets
# TCP_NODELAY and is the baseline of every ratio, so that tetherd is compared
# with tangd's own cost; "tangd-nagle" is the socket as deployed.
SERVERS="tetherd tangd tangd-nagle"
declare -A url pid

# A port is chosen free just before its server binds it; each server gets
# its own port because the previous one is listening by then.
port=$(free_port)
url[tetherd]=http://127.0.0.1:$port
start_server tetherd "$TETHERD" serve --keys "$KEYS" --listen "${url[tetherd]}" \
	--rec-rate 0 --max-connections-per-address 0
pid[tetherd]=$SERVER_PID
wait_ready "${pid[tetherd]}" "${url[tetherd]}/adv" ||
	die "tetherd did not start: $(cat "$SCRATCH/tetherd.log")"

for name in tangd tangd-nagle; do
	if [ "$name" = tangd ]; then options=,nodelay; else options=; fi
	port=$(free_port)
	url[$name]=http://127.0.0.1:$port
	start_server "$name" socat \
		"TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork$options" \
		"EXEC:$TANGD $KEYS"
	pid[$name]=$SERVER_PID
	wait_ready "${pid[$name]}" "${url[$name]}/adv" ||
		die "$name (socat) did not start: $(cat "$SCRATCH/$name.log")"
done

# One recovery from each, checked before anything is timed: each must
# answer 200, and with the same point, since they hold the same key.
rec_point() { # NAME
	local status body=$SCRATCH/$1.rec
	status=$(curl -s --max-time 10 -o "$body" -w '%{http_code}' \
		-H 'Content-Type: application/jwk+json' \
		--data-binary "@$REQUEST" "${url[$1]}/rec/$KID") || status=none
	[ "$status" = 200 ] ||
		die "$1: POST /rec/$KID answered $status, not 200: $(head -c 500 "$body")"
	jose fmt -j "$body" -g x -u- -Ug y -u- ||
		die "$1: POST /rec answer is not an EC JWK: $(head -c 500 "$body")"
}
expected=$(rec_point tetherd)
for name in tangd tangd-nagle; do
	[ "$(rec_point "$name")" = "$expected" ] ||
		die "tetherd and $name answer the same recovery with different points"
done

# --- load -----------------------------------------------------------------

declare -A rps p50 p99 non2xx sockerr cpu
for name in $SERVERS; do
	for conns in $CONNECTIONS; do
		for endpoint in adv rec; do
			echo "wrk: $name $endpoint, $conns connections..." >&2
			if [ "$endpoint" = adv ]; then
				run_wrk "$name-adv-$conns" "${pid[$name]}" "$conns" \
					"${url[$name]}/adv"
			else
				run_wrk "$name-rec-$conns" "${pid[$name]}" "$conns" \
					"${url[$name]}/rec/$KID" "$REC_LUA"
			fi
			row=$name,$endpoint,$conns
			rps[$row]=$RPS p50[$row]=$P50 p99[$row]=$P99
			non2xx[$row]=$NON2XX sockerr[$row]=$SOCKERR cpu[$row]=$CPU
		done
	done
	kill -0 "${pid[$name]}" 2>/dev/null ||
		die "$name died under load: $(tail -n 20 "$SCRATCH/$name.log")"
done

echo "measuring the ECDH limit again..." >&2
ECDH_1_AFTER=$(speed)
ECDH_ALL_AFTER=$(speed -multi "$CORES")
ECDH_1=$((ECDH_1_BEFORE > ECDH_1_AFTER ? ECDH_1_BEFORE : ECDH_1_AFTER))
ECDH_ALL=$((ECDH_ALL_BEFORE > ECDH_ALL_AFTER ? ECDH_ALL_BEFORE : ECDH_ALL_AFTER))

# --- report ---------------------------------------------------------------

LAST=${CONNECTIONS##* }
REC_RATE=${rps[tetherd,rec,$LAST]}

label() { # ENDPOINT
	if [ "$1" = adv ]; then echo "GET /adv"; else echo "POST /rec"; fi
}

echo
echo "tether server benchmark: tetherd vs Debian's tangd"
echo "machine: $CORES cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)"
echo "$("$TETHERD" --version), default threads ($CORES), request log to a file;"
echo "tangd $(dpkg-query -W -f '${Version}' tang 2>/dev/null || echo '?'), one process per connection under socat"
echo "wrk: ${BENCH_SECONDS}s per row on 127.0.0.1, threads = min(connections, 2)"
echo "note: wrk runs on the same $CORES cores as the server it measures, so every"
echo "      rate here is below what the server alone would reach; the cpu column"
echo "      is how many cores the server itself kept busy"
echo "load average before the run: $LOAD_BEFORE"
if awk -v l="$LOAD_BEFORE" -v c="$CORES" 'BEGIN { exit !(l > c / 2) }'; then
	echo "WARNING: the machine was busy before the run; every number is suspect"
fi
echo

row_format='%-9s %5s | %8s %7s %7s %5s %6s | %8s %7s %7s %5s %6s | %7s\n'
rule=$(printf '%.0s-' $(seq 1 98))
echo "tetherd vs tangd (socat with TCP_NODELAY: tangd's own cost)"
# shellcheck disable=SC2059 # the format is a constant
printf "$row_format" endpoint conns "tetherd" "p50 ms" "p99 ms" non2x cpu \
	"tangd" "p50 ms" "p99 ms" non2x cpu ratio
echo "$rule"
for endpoint in adv rec; do
	for conns in $CONNECTIONS; do
		t=tetherd,$endpoint,$conns g=tangd,$endpoint,$conns
		# shellcheck disable=SC2059
		printf "$row_format" "$(label "$endpoint")" "$conns" \
			"${rps[$t]}" "${p50[$t]}" "${p99[$t]}" "${non2xx[$t]}" "${cpu[$t]}" \
			"${rps[$g]}" "${p50[$g]}" "${p99[$g]}" "${non2xx[$g]}" "${cpu[$g]}" \
			"$(ratio "${rps[$t]}" "${rps[$g]}")x"
	done
done
echo "(req/s, latency percentiles in ms; non2x = responses with status >= 400;"
echo " cpu = cores the server used; ratio = tetherd req/s / tangd req/s)"
echo

echo "tangd as Debian's tangd.socket serves it (no TCP_NODELAY: ~40 ms stalls)"
printf '%-9s %5s | %8s %7s %7s %5s | %7s\n' endpoint conns "tangd" "p50 ms" "p99 ms" non2x "tetherd/"
echo "${rule:0:56}"
for endpoint in adv rec; do
	for conns in $CONNECTIONS; do
		t=tetherd,$endpoint,$conns g=tangd-nagle,$endpoint,$conns
		printf '%-9s %5s | %8s %7s %7s %5s | %7s\n' "$(label "$endpoint")" "$conns" \
			"${rps[$g]}" "${p50[$g]}" "${p99[$g]}" "${non2xx[$g]}" \
			"$(ratio "${rps[$t]}" "${rps[$g]}")x"
	done
done
echo

for name in $SERVERS; do
	for endpoint in adv rec; do
		for conns in $CONNECTIONS; do
			row=$name,$endpoint,$conns
			if [ -n "${sockerr[$row]}" ]; then
				echo "wrk socket errors, $name $endpoint at $conns connections: ${sockerr[$row]}"
			fi
		done
	done
done

echo "ECDH P-521 limit (openssl speed ecdhp521, ${SPEED_SECONDS}s, best of before/after):" \
	"$ECDH_1 ops/s on 1 core ($ECDH_1_BEFORE/$ECDH_1_AFTER)," \
	"$ECDH_ALL ops/s on $CORES cores ($ECDH_ALL_BEFORE/$ECDH_ALL_AFTER)"
echo "tetherd POST /rec at $LAST connections: $REC_RATE req/s =" \
	"$(percent "$REC_RATE" "$ECDH_ALL")% of the $CORES-core limit," \
	"$(percent "$REC_RATE" "$ECDH_1")% of the 1-core limit"
per_core=$(awk -v r="$REC_RATE" -v c="${cpu[tetherd,rec,$LAST]}" \
	'BEGIN { if (c > 0) printf "%.0f\n", r / c; else print 0 }')
echo "  per core tetherd used (${cpu[tetherd,rec,$LAST]}): $per_core req/s =" \
	"$(percent "$per_core" "$ECDH_1")% of the 1-core limit"

# What the tetherd log holds besides its start-up, request and audit
# lines; a request line is ADDRESS METHOD PATH STATUS TIME.
log=$SCRATCH/tetherd.log
echo "tetherd log, requests by status:" "$(awk '
	$2 ~ /^(GET|POST)$/ && $4 ~ /^[0-9][0-9][0-9]$/ { n[$4]++ }
	END { for (s in n) printf "%s%s: %d", (k++ ? ", " : ""), s, n[s] }' "$log")"
awk '
	$2 ~ /^(GET|POST)$/ && $4 ~ /^[0-9][0-9][0-9]$/ { next }
	/^tetherd: (listening on|serving|running as) / { next }
	# The audit trail: one JSON object per recovery or denial.
	/^\{"time":/ { audit++; next }
	# Lines about a connection: count them by message.
	$1 ~ /^[0-9.:\[\]a-f]+$/ && $5 ~ /ms$/ {
		m = $0
		for (i = 0; i < 5; i++) sub(/^[^ ]+ +/, "", m)
		n[m]++
		next
	}
	{ other[++k] = $0 }
	END {
		printf "tetherd log, audit lines: %d\n", audit
		for (m in n) printf "tetherd log, other lines: %d x \"%s\"\n", n[m], m
		for (i = 1; i <= k && i <= 10; i++) printf "tetherd log: %s\n", other[i]
		if (k > 10) printf "tetherd log: ... %d more\n", k - 10
	}' "$log"
echo

echo "target: tetherd /rec rate >= 80% of the ECDH limit for all cores:" \
	"$(percent "$REC_RATE" "$ECDH_ALL")% ->" \
	"$(met "$(percent "$REC_RATE" "$ECDH_ALL")" 80)"
# The issue's baseline is tangd as systemd runs it (Debian's tangd.socket:
# a process per connection, no NoDelay=); the TCP_NODELAY run isolates the
# share of the ratio that is tangd's own computation.
echo "target: tetherd /rec rate >= 10x tangd's as systemd runs it (at $LAST connections):" \
	"$(ratio "$REC_RATE" "${rps[tangd-nagle,rec,$LAST]}")x ->" \
	"$(met "$(ratio "$REC_RATE" "${rps[tangd-nagle,rec,$LAST]}")" 10)" \
	"(vs tangd with TCP_NODELAY added: $(ratio "$REC_RATE" "${rps[tangd,rec,$LAST]}")x)"
