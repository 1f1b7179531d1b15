#!/bin/bash
# Start-up with many keys: tetherd against Debian's tangd, in one run.
#
# For each N in KEY_COUNTS, a keys directory of N advertised pairs (jose
# jwk gen, as tangd-keygen makes them) is served by `tetherd serve` and by
# tangd under socat. Printed: the time from starting tetherd until its
# first GET /adv answers, the time of a GET /adv/{kid} (signed when first
# asked for), the time of a reload (a pair added, then one GET /adv), and
# one tangd GET /adv (tangd reads and signs the directory per request).
# Never a pass/fail: the exit status is non-zero only when it cannot run.
#
# Environment: TETHERD, TANGD (see bench/lib.sh); KEY_COUNTS (default
# "2 50 200").
set -eu -o pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
KEY_COUNTS=${KEY_COUNTS:-2 50 200}
for n in $KEY_COUNTS; do
	is_count "$n" || die "KEY_COUNTS must be positive integers"
done
need_tools socat jose curl date
need_built TETHERD

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# until_answers URL: the milliseconds until URL answers 200, at most 120 s.
until_answers() {
	local start _
	start=$(now_ms)
	for _ in $(seq 1 12000); do
		if curl -sf -o /dev/null --max-time 5 "$1"; then
			echo $(( $(now_ms) - start ))
			return 0
		fi
		sleep 0.01
	done
	return 1
}

one_get() { # URL: milliseconds of one GET
	local start
	start=$(now_ms)
	curl -sf -o /dev/null --max-time 120 "$1" || return 1
	echo $(( $(now_ms) - start ))
}

printf '%6s %14s %14s %12s %14s\n' pairs "tetherd start" "adv/{kid} 1st" reload "tangd GET /adv"
for n in $KEY_COUNTS; do
	dir=$SCRATCH/keys-$n
	mkdir -m 0700 "$dir"
	(umask 077
	 for i in $(seq 1 "$n"); do
		jose jwk gen -i '{"alg":"ES512"}' -o "$dir/s$i.jwk"
		jose jwk gen -i '{"alg":"ECMR"}' -o "$dir/e$i.jwk"
	 done)
	service_keys "$dir"
	port=$(free_port)
	start_server "tetherd-$n" "$TETHERD" serve --keys "$dir" \
		--listen "http://127.0.0.1:$port"
	t_start=$(until_answers "http://127.0.0.1:$port/adv") ||
		die "tetherd with $n pairs did not answer"
	kid=$(jose jwk thp -i "$dir/s1.jwk")
	t_kid=$(one_get "http://127.0.0.1:$port/adv/$kid")
	(umask 077; jose jwk gen -i '{"alg":"ES512"}' -o "$dir/extra.jwk")
	service_keys "$dir"
	t_reload=$(one_get "http://127.0.0.1:$port/adv")
	rm -f "$dir/extra.jwk"
	tport=$(free_port)
	start_server "tangd-$n" socat \
		"TCP-LISTEN:$tport,bind=127.0.0.1,reuseaddr,fork" "EXEC:$TANGD $dir"
	until_answers "http://127.0.0.1:$tport/adv" >/dev/null ||
		die "tangd with $n pairs did not answer"
	t_tang=$(one_get "http://127.0.0.1:$tport/adv")
	printf '%6s %12sms %12sms %10sms %12sms\n' "$n" "$t_start" "$t_kid" \
		"$t_reload" "$t_tang"
done
