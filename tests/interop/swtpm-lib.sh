# shellcheck shell=bash
# A software TPM (Debian's swtpm) for the tests, on loopback, living as
# long as the test. Sourced after lib.sh.

# start_swtpm NAME: a fresh TPM 2.0 with its state in $TEST_DIR/NAME,
# started up (no tpm2_startup needed), on a free port P and its control
# channel on P+1, as the swtpm TCTI expects; sets NAME_TCTI (what
# TPM2TOOLS_TCTI takes) and NAME_PID. Tried again on other ports if a
# concurrent test takes one first.
start_swtpm() {
	local name=$1 dir=$TEST_DIR/$1 port pid
	mkdir -p "$dir"
	for _ in 1 2 3 4 5; do
		port=$(free_port) || return 1
		ss -Htan "sport = :$((port + 1))" | grep -q . && continue
		swtpm socket --tpm2 --tpmstate "dir=$dir" \
			--server "type=tcp,port=$port,bindaddr=127.0.0.1" \
			--ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
			--flags not-need-init,startup-clear \
			>>"$TEST_DIR/$name.log" 2>&1 &
		pid=$!
		test_pids+=("$pid")
		for _ in $(seq 1 100); do
			if ss -Htlnp "sport = :$port" | grep -q "pid=$pid,"; then
				eval "${name}_PID=$pid"
				eval "${name}_TCTI=swtpm:host=127.0.0.1,port=$port"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$pid"
	done
	return 1
}

# use_swtpm: start_swtpm tpm, and TPM2TOOLS_TCTI names it for tether and
# tpm2-tools alike; ends the test when it cannot start.
use_swtpm() {
	if ! start_swtpm tpm; then
		not_ok "swtpm starts on loopback" "$(tail -n 5 "$TEST_DIR/tpm.log" 2>&1)"
		done_testing
		exit 1
	fi
	# shellcheck disable=SC2154
	export TPM2TOOLS_TCTI=$tpm_TCTI
	ok "swtpm starts on loopback ($TPM2TOOLS_TCTI)"
}
