#!/bin/bash
# Client benchmark: tether against Debian's clevis, in one run on 127.0.0.1.
#
# Both clients talk to the same servers: tetherd, and Debian's tangd under
# socat (with TCP_NODELAY), both on one keys directory, plus a second
# tetherd for a Shamir (sss) binding of 2 of 2. hyperfine measures the wall
# time of a whole command, start-up and exit included, as boot scripts and
# `clevis luks unlock` run them: `decrypt` of a tang JWE and of an sss JWE,
# and `encrypt tang` with the same config for both tools. Every JWE and
# every config is checked with both tools before anything is timed.
# The output is a table and ratios, never a pass/fail exit status: the exit
# status is non-zero only when the benchmark itself could not run.
#
# Environment:
#   TETHER        tether binary (default: build/src/client/tether)
#   TETHERD       tetherd binary (default: build/src/server/tetherd); both
#                 are built with meson and ninja if absent
#   TANGD         tangd binary (default: /usr/libexec/tangd)
#   TANGD_KEYGEN  (default: /usr/libexec/tangd-keygen)
#   BENCH_RUNS    timed runs of each command (default: 30)
#   BENCH_WARMUP  untimed runs of each command before those (default: 3)
set -eu -o pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
BENCH_RUNS=${BENCH_RUNS:-30}
BENCH_WARMUP=${BENCH_WARMUP:-3}
CORES=$(nproc)
# The target of the issue, as a ratio of clevis's mean time to tether's.
TARGET=10

is_count "$BENCH_RUNS" || die "BENCH_RUNS must be a positive integer"
[ "$BENCH_WARMUP" = 0 ] || is_count "$BENCH_WARMUP" ||
	die "BENCH_WARMUP must be 0 or a positive integer"
need_tools hyperfine clevis clevis-encrypt-tang clevis-decrypt-tang \
	clevis-encrypt-sss clevis-decrypt-sss socat jose curl ss awk setsid timeout cmp
CLEVIS=$(command -v clevis)
need_built TETHER TETHERD
CRYPTO_START=$(bench_program crypto-start)

# signing_thp DIR: the thumbprint of the signing key in a keys directory,
# the "thp" a client config pins.
signing_thp() {
	local key thp=
	for key in "$1"/*.jwk; do
		if jose jwk use -i "$key" -u verify; then
			thp=$(jose jwk thp -i "$key" -a S256)
		fi
	done
	[ -n "$thp" ] || die "no signing (verify) key in $1"
	echo "$thp"
}

within() { # RATIO LIMIT
	awk -v r="$1" -v t="$2" 'BEGIN {
		if (r != "-" && r + 0 <= t + 0) print "met"; else print "NOT met" }'
}

met() { # VALUE THRESHOLD
	awk -v v="$1" -v t="$2" 'BEGIN {
		if (v != "-" && v + 0 >= t + 0) print "met"; else print "NOT met" }'
}

# Every tether and clevis run outside hyperfine is bounded: clevis's curl
# has no time limit of its own, so a server that hangs would hang it.
BOUND=60

# run_client NAME TOOL IN OUT ARGS...: runs TOOL (tether or clevis) with
# ARGS, stdin IN and stdout OUT; dies with its stderr if it fails.
run_client() {
	local name=$1 tool=$2 in=$3 out=$4 bin rc=0
	shift 4
	if [ "$tool" = tether ]; then bin=$TETHER; else bin=$CLEVIS; fi
	timeout "$BOUND" "$bin" "$@" <"$in" >"$out" 2>"$SCRATCH/client.err" ||
		rc=$?
	[ "$rc" -ne 124 ] || die "$name: $tool $1 hung (killed after ${BOUND}s)"
	[ "$rc" -eq 0 ] ||
		die "$name: $tool $1 failed (exit status $rc): $(head -c 1000 "$SCRATCH/client.err")"
}

# check_decrypts NAME JWE: both tools decrypt JWE to exactly the plaintext.
check_decrypts() {
	local name=$1 jwe=$2 tool out=$SCRATCH/recovered
	for tool in tether clevis; do
		rm -f "$out"
		run_client "$name" "$tool" "$jwe" "$out" decrypt
		cmp -s "$out" "$PLAIN" ||
			die "$name: $tool decrypt of $(basename "$jwe") succeeded but its output differs from the plaintext ($(wc -c <"$out") bytes, $(wc -c <"$PLAIN") expected)"
	done
}

# --- keys, servers, bindings ----------------------------------------------

# Two keys directories: "a" is served by tetherd and by tangd, "b" by the
# second tetherd of the sss binding.
for dir in a b; do
	mkdir "$SCRATCH/keys-$dir"
	# tangd-keygen may warn that it cannot chown the keys to _tang: harmless.
	"$TANGD_KEYGEN" "$SCRATCH/keys-$dir" >/dev/null 2>&1 ||
		die "tangd-keygen failed"
	service_keys "$SCRATCH/keys-$dir"
done
THP_A=$(signing_thp "$SCRATCH/keys-a")
THP_B=$(signing_thp "$SCRATCH/keys-b")

declare -A url pid
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)

# A port is chosen free just before its server binds it; each server gets
# its own port because the previous one is listening by then.
for name in tetherd tetherd-b; do
	if [ "$name" = tetherd ]; then keys=$SCRATCH/keys-a; else keys=$SCRATCH/keys-b; fi
	port=$(free_port)
	url[$name]=http://127.0.0.1:$port
	start_server "$name" "$TETHERD" serve --keys "$keys" --listen "${url[$name]}" \
		--rec-rate 0 --max-connections-per-address 0
	pid[$name]=$SERVER_PID
	wait_ready "${pid[$name]}" "${url[$name]}/adv" ||
		die "$name did not start: $(cat "$SCRATCH/$name.log")"
done

# tangd, one process per connection under socat as tangd.socket runs it,
# with TCP_NODELAY: without it each response stalls about 40 ms on the
# client's delayed ACK (see bench/server.sh), which would add the same
# 40 ms to both clients and hide their own cost.
port=$(free_port)
url[tangd]=http://127.0.0.1:$port
start_server tangd socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay" \
	"EXEC:$TANGD $SCRATCH/keys-a"
pid[tangd]=$SERVER_PID
wait_ready "${pid[tangd]}" "${url[tangd]}/adv" ||
	die "tangd (socat) did not start: $(cat "$SCRATCH/tangd.log")"

# The secret a LUKS binding holds: 64 random bytes.
PLAIN=$SCRATCH/plain
head -c 64 /dev/urandom >"$PLAIN"

# Configs, one per binding; the same string is given to both tools.
declare -A config
config[tetherd]=$(printf '{"url":"%s","thp":"%s"}' "${url[tetherd]}" "$THP_A")
config[tangd]=$(printf '{"url":"%s","thp":"%s"}' "${url[tangd]}" "$THP_A")
config[sss]=$(printf '{"t":2,"pins":{"tang":[{"url":"%s","thp":"%s"},{"url":"%s","thp":"%s"}]}}' \
	"${url[tetherd]}" "$THP_A" "${url[tetherd-b]}" "$THP_B")

# Each tool encrypts each binding, and both tools must decrypt each result:
# the JWEs clevis wrote are the ones timed, tether's prove the encrypt
# being timed makes JWEs that work.
echo "checking that both tools encrypt and decrypt every binding..." >&2
for binding in tetherd tangd sss; do
	if [ "$binding" = sss ]; then pin=sss; else pin=tang; fi
	for tool in clevis tether; do
		jwe=$SCRATCH/$binding.$tool.jwe
		run_client "$binding" "$tool" "$PLAIN" "$jwe" \
			encrypt "$pin" "${config[$binding]}"
		[ -s "$jwe" ] || die "$binding: $tool encrypt wrote nothing"
		check_decrypts "$binding" "$jwe"
	done
done

# --- timing ---------------------------------------------------------------

# hyperfine runs each command through sh (its start-up measured and
# subtracted), with stdout discarded; any non-zero exit status stops it.
# The bound guards against a server that hangs mid-run: a run takes well
# under a second, so 5 s a run is generous.
HF_BOUND=$((60 + 2 * (BENCH_RUNS + BENCH_WARMUP) * 5))
ROWS=()
declare -A label mean sd median


# bench ROW LABEL TETHER_COMMAND CLEVIS_COMMAND: one hyperfine run of both
# commands (shell command lines); sets mean[ROW,tool] and sd[ROW,tool] in ms.
bench() {
	local row=$1 json=$SCRATCH/$1.json out=$SCRATCH/$1.hyperfine i tool
	label[$row]=$2
	ROWS+=("$row")
	echo "hyperfine: $2, $BENCH_RUNS runs each..." >&2
	timeout "$HF_BOUND" hyperfine --style basic --warmup "$BENCH_WARMUP" \
		--runs "$BENCH_RUNS" --export-json "$json" \
		-n tether "$3" -n clevis "$4" >"$out" 2>&1 ||
		die "hyperfine failed for $2: $(tail -n 20 "$out")"
	i=0
	for tool in tether clevis; do
		mean[$row,$tool]=$(ms "$(jose fmt -j "$json" -g results -g $i -g mean -o-)")
		sd[$row,$tool]=$(ms "$(jose fmt -j "$json" -g results -g $i -g stddev -o-)")
		median[$row,$tool]=$(ms "$(jose fmt -j "$json" -g results -g $i -g median -o-)")
		[ "${mean[$row,$tool]}" != - ] ||
			die "cannot parse hyperfine's results for $2: $(head -c 1000 "$json")"
		i=$((i + 1))
	done
}

# cmd WORD... '<' FILE: a command line for hyperfine's shell, every word
# quoted, with FILE as its stdin.
cmd() {
	local words=()
	while [ $# -gt 2 ]; do
		words+=("$(printf '%q' "$1")")
		shift
	done
	[ "$1" = '<' ] || die "cmd: no stdin redirection"
	echo "${words[*]} < $(printf '%q' "$2")"
}

for binding in tetherd tangd; do
	jwe=$SCRATCH/$binding.clevis.jwe
	bench "decrypt-$binding" "decrypt tang, $binding" \
		"$(cmd "$TETHER" decrypt '<' "$jwe")" \
		"$(cmd "$CLEVIS" decrypt '<' "$jwe")"
done
for binding in tetherd tangd; do
	bench "encrypt-$binding" "encrypt tang, $binding" \
		"$(cmd "$TETHER" encrypt tang "${config[$binding]}" '<' "$PLAIN")" \
		"$(cmd "$CLEVIS" encrypt tang "${config[$binding]}" '<' "$PLAIN")"
done
jwe=$SCRATCH/sss.clevis.jwe
bench decrypt-sss "decrypt sss 2 of 2, tetherd x2" \
	"$(cmd "$TETHER" decrypt '<' "$jwe")" \
	"$(cmd "$CLEVIS" decrypt '<' "$jwe")"

# --- the floor of a decrypt ------------------------------------------------

# What no client can go below, each part measured here: a process start
# (/bin/true, through hyperfine's shell as every command above), the two
# P-521 point multiplications of the client's half of the exchange (the
# time of one ECDH from openssl speed, each), and one POST /rec to
# tetherd, its recovery and the round trip (curl's time_total, from the
# connection to the last byte). bench/crypto-start, a program that loads
# libcrypto and does nothing, is the start any client of this exchange
# on the system's OpenSSL pays: the second floor uses it.
echo "measuring the floor: process start, P-521 ECDH, one recovery..." >&2
timeout "$HF_BOUND" hyperfine --style basic --warmup "$BENCH_WARMUP" \
	--runs "$BENCH_RUNS" --export-json "$SCRATCH/start.json" \
	-n true /bin/true -n crypto-start "$(printf '%q' "$CRYPTO_START")" \
	>"$SCRATCH/start.hyperfine" 2>&1 ||
	die "hyperfine failed for the process start: $(tail -n 20 "$SCRATCH/start.hyperfine")"
START_MS=$(ms "$(jose fmt -j "$SCRATCH/start.json" -g results -g 0 -g median -o-)")
CRYPTO_MS=$(ms "$(jose fmt -j "$SCRATCH/start.json" -g results -g 1 -g median -o-)")
ECDH_OPS=$(timeout 60 openssl speed -seconds 2 ecdhp521 2>/dev/null |
	awk '/ecdh \(nistp521\)/ { printf "%.0f\n", $NF }')
[ -n "$ECDH_OPS" ] || die "cannot parse openssl speed output"
MUL_MS=$(awk -v o="$ECDH_OPS" 'BEGIN { printf "%.2f\n", 2 * 1000 / o }')
KID=$(exchange_kid "$SCRATCH/keys-a")
jose jwk gen -i '{"alg":"ECMR"}' | jose jwk pub -i- -o "$SCRATCH/request.jwk"
for _ in $(seq 1 "$BENCH_RUNS"); do
	timeout "$BOUND" curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
		-X POST -H 'Content-Type: application/jwk+json' \
		--data-binary "@$SCRATCH/request.jwk" "${url[tetherd]}/rec/$KID" ||
		die "POST /rec/$KID to tetherd failed"
done >"$SCRATCH/rec.times"
REC_MS=$(sort -k2,2n "$SCRATCH/rec.times" | awk '$1 != 200 { bad = 1 }
	{ t[++n] = $2 }
	END { if (bad || !n) print "-"
		else printf "%.2f\n", 1000 * (n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2) }')
[ "$REC_MS" != - ] || die "a POST /rec/$KID to tetherd did not answer 200: $(sort -u "$SCRATCH/rec.times" | head -3)"
FLOOR_MS=$(awk -v a="$START_MS" -v b="$MUL_MS" -v c="$REC_MS" \
	'BEGIN { printf "%.2f\n", a + b + c }')
FLOOR_CRYPTO_MS=$(awk -v a="$CRYPTO_MS" -v b="$MUL_MS" -v c="$REC_MS" \
	'BEGIN { printf "%.2f\n", a + b + c }')
# The target of the issue: tether's decrypt within this factor of the floor.
FLOOR_TARGET=1.5

for name in tetherd tetherd-b tangd; do
	kill -0 "${pid[$name]}" 2>/dev/null ||
		die "$name died during the run: $(tail -n 20 "$SCRATCH/$name.log")"
done

# Peak memory of one decrypt each, from GNU time (Debian package "time").
# Its figure is the largest single process: for clevis, the biggest of the
# shell, jose and curl processes its pipeline runs, not their sum.
RSS_LINE=
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
	declare -A rss
	jwe=$SCRATCH/tetherd.clevis.jwe
	for tool in tether clevis; do
		if [ "$tool" = tether ]; then bin=$TETHER; else bin=$CLEVIS; fi
		timeout "$BOUND" /usr/bin/time -v -o "$SCRATCH/$tool.time" \
			"$bin" decrypt <"$jwe" >/dev/null 2>"$SCRATCH/client.err" ||
			die "$tool decrypt under /usr/bin/time failed: $(head -c 1000 "$SCRATCH/client.err")"
		rss[$tool]=$(awk -F': ' '/Maximum resident set size/ { print $2 }' \
			"$SCRATCH/$tool.time")
		[ -n "${rss[$tool]}" ] ||
			die "cannot parse /usr/bin/time -v output: $(cat "$SCRATCH/$tool.time")"
	done
	RSS_LINE="peak RSS of one decrypt (tang, tetherd): tether ${rss[tether]} KiB,"
	RSS_LINE+=" clevis ${rss[clevis]} KiB (its largest process)"
	RSS_LINE+=" = $(ratio "${rss[clevis]}" "${rss[tether]}")x"
else
	RSS_LINE="peak RSS: skipped: /usr/bin/time is not GNU time or is absent (Debian package \"time\")"
fi

# --- report ---------------------------------------------------------------

echo
echo "tether client benchmark: tether vs Debian's clevis"
echo "machine: $CORES cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)"
echo "$("$TETHER" --version); clevis $(dpkg-query -W -f '${Version}' clevis 2>/dev/null || echo '?')," \
	"jose $(dpkg-query -W -f '${Version}' jose 2>/dev/null || echo '?')"
echo "servers on 127.0.0.1: $("$TETHERD" --version) (two for sss);" \
	"tangd $(dpkg-query -W -f '${Version}' tang 2>/dev/null || echo '?') under socat, TCP_NODELAY"
echo "$(hyperfine --version): $BENCH_RUNS runs after $BENCH_WARMUP warm-up runs per command;"
echo "  wall time of the whole command, server exchange included"
echo "load average before the run: $LOAD_BEFORE"
if awk -v l="$LOAD_BEFORE" -v c="$CORES" 'BEGIN { exit !(l > c / 2) }'; then
	echo "WARNING: the machine was busy before the run; every number is suspect"
fi
echo

row_format='%-32s | %9s %8s | %9s %8s | %8s\n'
# shellcheck disable=SC2059 # the format is a constant
printf "$row_format" operation "tether ms" stddev "clevis ms" stddev "clevis/"
# shellcheck disable=SC2059
printf "$row_format" "" "" "" "" "" "tether"
printf '%.0s-' $(seq 1 83)
echo
for row in "${ROWS[@]}"; do
	# shellcheck disable=SC2059
	printf "$row_format" "${label[$row]}" \
		"${mean[$row,tether]}" "${sd[$row,tether]}" \
		"${mean[$row,clevis]}" "${sd[$row,clevis]}" \
		"$(ratio "${mean[$row,clevis]}" "${mean[$row,tether]}")x"
done
echo "(mean and standard deviation of the wall time in ms; the JWEs decrypted"
echo " are clevis's; tether's own JWEs were checked to decrypt with both tools)"
echo
echo "$RSS_LINE"

# Anything but request lines and successful recoveries in a tetherd log,
# and any request that did not succeed, is worth a look; a request line
# is ADDRESS METHOD PATH STATUS TIME.
for name in tetherd tetherd-b; do
	awk -v n="$name" '
		$2 ~ /^(GET|POST)$/ && $4 ~ /^[0-9][0-9][0-9]$/ { s[$4]++; next }
		/^tetherd: (listening on|serving|running as) / { next }
		/"event":"recovery".*"outcome":"ok"/ { next }
		{ other[++k] = $0 }
		END {
			line = ""
			for (c in s) line = line (line == "" ? "" : ", ") c ": " s[c]
			printf "%s log, requests by status: %s\n", n, line
			for (i = 1; i <= k && i <= 10; i++) printf "%s log: %s\n", n, other[i]
			if (k > 10) printf "%s log: ... %d more\n", n, k - 10
		}' "$SCRATCH/$name.log"
done
# hyperfine warns of outliers and of runs too short to measure well.
for row in "${ROWS[@]}"; do
	grep -h '^ *Warning' "$SCRATCH/$row.hyperfine" |
		sed -e "s/^ */hyperfine, ${label[$row]}: /" -e 's/\. .*/./' || true
done
echo

# Medians: on a shared machine a few slow runs move a mean of
# millisecond commands by tens of percent, and the floor's parts and
# tether's time must be read the same way.
echo "floor of a decrypt (tang, tetherd), each part measured in this run (medians):"
printf '  %-58s %7s ms\n' "process start (/bin/true)" "$START_MS" \
	"2 P-521 multiplications (2 x openssl speed ecdhp521)" "$MUL_MS" \
	"one recovery by tetherd and its round trip (curl)" "$REC_MS" \
	"floor" "$FLOOR_MS" \
	"  (with a start that loads libcrypto, $CRYPTO_MS ms, instead)" "$FLOOR_CRYPTO_MS"
FLOOR_RATIO=$(ratio "${median[decrypt-tetherd,tether]}" "$FLOOR_MS")
FLOOR_CRYPTO_RATIO=$(ratio "${median[decrypt-tetherd,tether]}" "$FLOOR_CRYPTO_MS")
echo "tether decrypt (tang, tetherd): ${median[decrypt-tetherd,tether]} ms =" \
	"${FLOOR_RATIO}x the floor" \
	"(${FLOOR_CRYPTO_RATIO}x the floor with libcrypto's start)"
echo "target: tether decrypt within ${FLOOR_TARGET}x of the floor ->" \
	"$(within "$FLOOR_RATIO" "$FLOOR_TARGET");" \
	"of the floor with libcrypto's start -> $(within "$FLOOR_CRYPTO_RATIO" "$FLOOR_TARGET")"
echo

echo "target: tether at least ${TARGET}x faster than clevis for decrypt and encrypt:"
for row in "${ROWS[@]}"; do
	r=$(ratio "${mean[$row,clevis]}" "${mean[$row,tether]}")
	printf '  %-32s %6sx -> %s\n' "${label[$row]}" "$r" "$(met "$r" "$TARGET")"
done
