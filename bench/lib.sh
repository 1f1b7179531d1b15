# shellcheck shell=bash
# What the benchmarks share: argument checks, the binaries under test, and
# servers that live only as long as the script. Sourced after ROOT is set.

TANGD=${TANGD:-/usr/libexec/tangd}
TANGD_KEYGEN=${TANGD_KEYGEN:-/usr/libexec/tangd-keygen}

die() {
	echo "bench/$(basename "$0"): $*" >&2
	exit 1
}

is_count() { # STRING: a positive decimal integer
	case $1 in
	'' | *[!0-9]* | 0*) return 1 ;;
	esac
}

# need_tools TOOL...: every TOOL is installed, and so is Debian's tangd.
need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool is not installed"
	done
	[ -x "$TANGD" ] || die "$TANGD not found (apt-get install tang)"
	[ -x "$TANGD_KEYGEN" ] ||
		die "$TANGD_KEYGEN not found (apt-get install tang)"
}

# need_built VAR...: each of TETHER, TETHERD named is set by the caller or
# defaults to the build tree, built with meson and ninja if absent.
need_built() {
	local var path built=1
	for var in "$@"; do
		case $var in
		TETHER) path=${TETHER:-$ROOT/build/src/client/tether} ;;
		TETHERD) path=${TETHERD:-$ROOT/build/src/server/tetherd} ;;
		*) die "need_built: unknown binary $var" ;;
		esac
		printf -v "$var" '%s' "$path"
		[ -x "$path" ] || built=0
	done
	if [ "$built" = 0 ]; then
		echo "building $*..." >&2
		[ -d "$ROOT/build" ] || meson setup "$ROOT/build" "$ROOT" >&2
		ninja -C "$ROOT/build" >&2
	fi
	for var in "$@"; do
		[ -x "${!var}" ] || die "${!var} is not an executable"
	done
}

# bench_program NAME: the path of bench/NAME in the build tree, built
# with ninja if absent (benchmark programs are not built by default).
bench_program() {
	local path=$ROOT/build/bench/$1
	if [ ! -x "$path" ]; then
		echo "building $path..." >&2
		ninja -C "$ROOT/build" "bench/$1" >&2
	fi
	[ -x "$path" ] || die "$path is not an executable"
	echo "$path"
}

# Scratch space and every server live only as long as the script. Each
# server runs in its own session, so killing its process group also ends
# the tangd processes socat forked for open connections.
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench.XXXXXX")
# tetherd started as root serves as the tether user, which must reach it.
if [ "$(id -u)" -eq 0 ]; then
	id tether >/dev/null 2>&1 || useradd --system --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin tether
	chmod 755 "$SCRATCH"
fi

# service_keys DIR: keys tangd-keygen made (for _tang) served by tetherd,
# which runs as tether; tangd, run as root here, reads them either way.
service_keys() {
	if [ "$(id -u)" -eq 0 ]; then
		chown -R tether: "$1"
	fi
}
server_groups=()

cleanup() {
	local pgid
	for pgid in "${server_groups[@]}"; do
		kill -- "-$pgid" 2>/dev/null || true
	done
	for pgid in "${server_groups[@]}"; do
		wait "$pgid" 2>/dev/null || true
	done
	rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints a TCP port that nothing listens on now, on any address, below the
# ephemeral range (32768-60999) that outgoing connections take ports from.
free_port() {
	local port _
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Htln "sport = :$port")" ]; then
			echo "$port"
			return 0
		fi
	done
	die "no free TCP port found"
}

# start_server NAME COMMAND...: runs COMMAND in a new session with stdout
# and stderr to $SCRATCH/NAME.log; sets SERVER_PID (also its process group).
start_server() {
	local name=$1
	shift
	setsid "$@" >"$SCRATCH/$name.log" 2>&1 &
	SERVER_PID=$!
	server_groups+=("$SERVER_PID")
}

# wait_ready PID URL: until URL answers, at most 10 s; fails if PID exits.
wait_ready() {
	local _
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 1
		if curl -s -o /dev/null --max-time 1 "$2"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# exchange_kid DIR: the thumbprint (S256) of the exchange (deriveKey) key
# in a keys directory, the kid of POST /rec/{kid}.
exchange_kid() {
	local key kid=
	for key in "$1"/*.jwk; do
		if jose jwk use -i "$key" -u deriveKey; then
			kid=$(jose jwk thp -i "$key" -a S256)
		fi
	done
	[ -n "$kid" ] || die "no exchange (deriveKey) key in $1"
	echo "$kid"
}

# What client.sh and tpm2.sh report hyperfine's figures with.
ratio() { # A B: A / B to one decimal, "-" when B is zero or not a number
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (b + 0 == 0) print "-"; else printf "%.1f\n", a / b }'
}

# ms SECONDS: a hyperfine time in milliseconds, "-" when it has none (the
# standard deviation of a single run is null).
ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /^[0-9.eE+-]+$/) printf "%.2f\n", v * 1000; else print "-" }'
}
