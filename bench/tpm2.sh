#!/bin/bash
# tpm2 pin benchmark: `tether decrypt` against `clevis decrypt` of the same
# tpm2 JWEs, on the same software TPM (swtpm on 127.0.0.1), in one run.
#
# Two bindings, both made by clevis and checked to decrypt with both
# tools first: no policy ('{}'), and a PCR policy (sha256:7). hyperfine
# measures the wall time of a whole command, start-up and exit included;
# before every timed run, untimed, the TPM's loaded sessions are flushed
# (clevis's tpm2-tools leave theirs, and swtpm has no resource manager to
# do it). strace counts the processes each command starts and the
# programs it executes. The output is a table and ratios, never a
# pass/fail exit status: the exit status is non-zero only when the
# benchmark itself could not run.
#
# Environment:
#   TETHER        tether binary (default: build/src/client/tether)
#   BENCH_RUNS    timed runs of each command (default: 20)
#   BENCH_WARMUP  untimed runs of each command before those (default: 2)
set -eu -o pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
BENCH_RUNS=${BENCH_RUNS:-20}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BOUND=60

is_count "$BENCH_RUNS" || die "BENCH_RUNS must be a positive integer"
[ "$BENCH_WARMUP" = 0 ] || is_count "$BENCH_WARMUP" ||
	die "BENCH_WARMUP must be 0 or a positive integer"
need_tools hyperfine clevis clevis-encrypt-tpm2 clevis-decrypt-tpm2 swtpm \
	tpm2_flushcontext strace jose ss awk setsid timeout cmp
CLEVIS=$(command -v clevis)
need_built TETHER

# --- the TPM ----------------------------------------------------------------

# swtpm takes port P for commands and P + 1 for control, as its TCTI does.
port=
for _ in $(seq 1 20); do
	p=$(free_port)
	[ -z "$(ss -Htln "sport = :$((p + 1))")" ] && port=$p && break
done
[ -n "$port" ] || die "no two free TCP ports in a row"
mkdir "$SCRATCH/tpm"
start_server swtpm swtpm socket --tpm2 --tpmstate "dir=$SCRATCH/tpm" \
	--server "type=tcp,port=$port,bindaddr=127.0.0.1" \
	--ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
	--flags not-need-init,startup-clear
TPM_PID=$SERVER_PID
for _ in $(seq 1 100); do
	[ -n "$(ss -Htln "sport = :$port")" ] && break
	kill -0 "$TPM_PID" 2>/dev/null || die "swtpm exited: $(cat "$SCRATCH/swtpm.log")"
	sleep 0.1
done
export TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$port
FLUSH="tpm2_flushcontext -l >/dev/null 2>&1; tpm2_flushcontext -t >/dev/null 2>&1"
flush() { sh -c "$FLUSH" || true; }

PLAIN=$SCRATCH/plain
head -c 64 /dev/urandom >"$PLAIN"

# run_client NAME TOOL IN OUT ARGS...: dies with TOOL's stderr if it fails.
run_client() {
	local name=$1 tool=$2 in=$3 out=$4 bin rc=0
	shift 4
	if [ "$tool" = tether ]; then bin=$TETHER; else bin=$CLEVIS; fi
	timeout "$BOUND" "$bin" "$@" <"$in" >"$out" 2>"$SCRATCH/client.err" ||
		rc=$?
	flush
	[ "$rc" -eq 0 ] ||
		die "$name: $tool $1 failed (exit status $rc): $(head -c 1000 "$SCRATCH/client.err")"
}

declare -A config=([none]='{}' [pcr]='{"pcr_bank":"sha256","pcr_ids":"7"}')
declare -A label=([none]="no policy" [pcr]="PCR policy sha256:7")
echo "checking that both tools encrypt and decrypt every binding..." >&2
for binding in none pcr; do
	for maker in clevis tether; do
		jwe=$SCRATCH/$binding.$maker.jwe
		run_client "$binding" "$maker" "$PLAIN" "$jwe" encrypt tpm2 "${config[$binding]}"
		for tool in tether clevis; do
			run_client "$binding" "$tool" "$jwe" "$SCRATCH/out" decrypt
			cmp -s "$SCRATCH/out" "$PLAIN" ||
				die "$binding: $tool decrypt of $maker's JWE differs from the plaintext"
		done
	done
done

# --- processes --------------------------------------------------------------

# procs TOOL JWE: "PROCESSES EXECS" one decrypt starts: every process
# strace follows (pids in its output) and every successful execve.
procs() {
	local bin log=$SCRATCH/strace.$1
	if [ "$1" = tether ]; then bin=$TETHER; else bin=$CLEVIS; fi
	timeout "$BOUND" strace -f -qq -e trace=execve -o "$log" \
		"$bin" decrypt <"$2" >/dev/null 2>"$SCRATCH/client.err" ||
		die "$1 decrypt under strace failed: $(head -c 1000 "$SCRATCH/client.err")"
	flush
	awk '{ pid[$1] = 1 } / execve\(.* = 0$/ { e++ }
		END { printf "%d %d\n", length(pid), e }' "$log"
}

# --- timing -----------------------------------------------------------------

HF_BOUND=$((60 + 2 * (BENCH_RUNS + BENCH_WARMUP) * 10))

declare -A mean sd nproc nexec
for binding in none pcr; do
	jwe=$SCRATCH/$binding.clevis.jwe
	json=$SCRATCH/$binding.json
	echo "hyperfine: decrypt tpm2 ($binding), $BENCH_RUNS runs each..." >&2
	timeout "$HF_BOUND" hyperfine --style basic --warmup "$BENCH_WARMUP" \
		--runs "$BENCH_RUNS" --prepare "$FLUSH" --export-json "$json" \
		-n tether "$(printf '%q decrypt < %q' "$TETHER" "$jwe")" \
		-n clevis "$(printf '%q decrypt < %q' "$CLEVIS" "$jwe")" \
		>"$SCRATCH/$binding.hyperfine" 2>&1 ||
		die "hyperfine failed: $(tail -n 20 "$SCRATCH/$binding.hyperfine")"
	i=0
	for tool in tether clevis; do
		mean[$binding,$tool]=$(ms "$(jose fmt -j "$json" -g results -g $i -g mean -o-)")
		sd[$binding,$tool]=$(ms "$(jose fmt -j "$json" -g results -g $i -g stddev -o-)")
		read -r nproc[$binding,$tool] nexec[$binding,$tool] < <(procs "$tool" "$jwe")
		i=$((i + 1))
	done
done
kill -0 "$TPM_PID" 2>/dev/null || die "swtpm died during the run"

# --- report -----------------------------------------------------------------

echo
echo "tpm2 pin benchmark: tether decrypt vs Debian's clevis decrypt, same JWEs, same swtpm"
echo "machine: $(nproc) cores, Linux $(uname -r); load average before: $(cut -d' ' -f1 /proc/loadavg)"
echo "$("$TETHER" --version); clevis $(dpkg-query -W -f '${Version}' clevis-tpm2 2>/dev/null || echo '?');" \
	"tpm2-tools $(dpkg-query -W -f '${Version}' tpm2-tools 2>/dev/null || echo '?');" \
	"swtpm $(dpkg-query -W -f '${Version}' swtpm 2>/dev/null || echo '?') at $TPM2TOOLS_TCTI"
echo "$(hyperfine --version): $BENCH_RUNS runs after $BENCH_WARMUP warm-up runs;" \
	"sessions flushed before each run, untimed"
echo
fmt='%-22s | %9s %7s | %9s %7s | %7s | %11s | %11s\n'
# shellcheck disable=SC2059 # the format is a constant
printf "$fmt" "decrypt tpm2" "tether ms" stddev "clevis ms" stddev "clevis/" "processes" "executions"
# shellcheck disable=SC2059
printf "$fmt" "(clevis's JWE)" "" "" "" "" "tether" "tether/clev" "tether/clev"
printf '%.0s-' $(seq 1 100)
echo
for binding in none pcr; do
	# shellcheck disable=SC2059
	printf "$fmt" "${label[$binding]}" \
		"${mean[$binding,tether]}" "${sd[$binding,tether]}" \
		"${mean[$binding,clevis]}" "${sd[$binding,clevis]}" \
		"$(ratio "${mean[$binding,clevis]}" "${mean[$binding,tether]}")x" \
		"${nproc[$binding,tether]}/${nproc[$binding,clevis]}" \
		"${nexec[$binding,tether]}/${nexec[$binding,clevis]}"
done
echo "(wall time of the whole command; processes: every process strace -f"
echo " followed, the command's own included; executions: successful execve)"
