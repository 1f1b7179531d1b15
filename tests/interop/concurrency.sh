#!/usr/bin/env bash
# Many clients at once: a silent client does not stall the others, idle
# connections are closed, keep-alive works, a burst of recoveries all
# succeed, and the per-listener connection limit holds and recovers.
. "$(dirname "$0")/lib.sh"

# A write to a connection the server has closed must fail, not end the test.
trap '' PIPE

keys=$TEST_DIR/keys
mkdir -m 0700 "$keys"
start_tetherd srv "$keys" || { not_ok "tetherd starts"; done_testing; exit 1; }
srv_url=$URL
exc=$(key_thps "$keys" deriveKey)
jose jwk gen -i '{"alg":"ECMR","crv":"P-521"}' |
	jose jwk pub -i- -o "$TEST_DIR/req.jwk"
want=$(jose jwk exc -l "$keys/$exc.jwk" -r "$TEST_DIR/req.jwk" |
	jose fmt -j- -g x -u-)

# rec URL [CURL ARGS...]: a recovery at URL; prints status and the point's x.
rec() {
	local url=$1 out
	shift
	out=$(curl -s --max-time 5 -w ' %{http_code}' "$@" \
		--data-binary "@$TEST_DIR/req.jwk" "$url/rec/$exc")
	printf '%s %s\n' "${out##* }" \
		"$(jose fmt -j "${out% *}" -g x -u- 2>/dev/null)"
}

# open_conn VAR PORT [BYTES]: a connection kept open in fd $VAR, after
# sending BYTES (printf %b) in one write.
open_conn() {
	local _fd
	exec {_fd}<>"/dev/tcp/127.0.0.1/$2" || return 1
	if [ -n "${3-}" ]; then
		printf '%b' "$3" >"$TEST_DIR/conn.in"
		cat "$TEST_DIR/conn.in" >&"$_fd"
	fi
	printf -v "$1" %s "$_fd"
}

# closed_within SECONDS FD: the server closes FD (we read EOF) in time.
closed_within() {
	timeout "$1" cat <&"$2" >/dev/null
}

# accepted PORT PID: how many connections to PORT the process has accepted.
accepted() {
	ss -Htnp state established "( sport = :$1 )" | grep -c "pid=$2,"
}
accepted_is() { # PORT PID N
	test "$(accepted "$1" "$2")" -eq "$3"
}

# (a) Silent clients that sent half a request hold no thread: with one
# worker thread, others are still served at once.
start_tetherd slow "$keys" --threads 1 --timeout 60 --request-timeout 60 ||
	{ not_ok "tetherd --threads 1 starts"; done_testing; exit 1; }
slow_fds=()
for i in 1 2 3 4 5; do
	if open_conn fd "$PORT" 'GET /adv HTTP/1.1\r\nHost: x\r\n'; then
		slow_fds+=("$fd")
	fi
done
check_eq "five silent connections with half a request are open" 5 \
	"${#slow_fds[@]}"
check "... and tetherd has accepted them" \
	wait_for "accepted" accepted_is "$PORT" "$slow_PID" 5
check_eq "GET /adv is served meanwhile" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/adv")"
check_eq "POST /rec is served meanwhile, with the right point" "200 $want" \
	"$(rec "$URL")"
# The held connections were kept, not dropped: one of them completes.
printf '\r\n' >&"${slow_fds[0]}"
check_eq "a silent connection that finishes its request gets its answer" \
	"HTTP/1.1 200 OK" \
	"$(timeout 5 head -1 <&"${slow_fds[0]}" | tr -d '\r')"
for fd in "${slow_fds[@]}"; do
	exec {fd}<&-
done
check "tetherd --threads 1 is still running" kill -0 "$slow_PID"
check "... and its one thread draws no warning from the library" \
	sh -c "! grep -q 'thread pool size' '$TEST_DIR/slow.log'"

# (b) Idle connections are closed after --timeout.
start_tetherd idle "$keys" --timeout 2 ||
	{ not_ok "tetherd --timeout 2 starts"; done_testing; exit 1; }
off=$(stat -c %s "$TEST_DIR/idle.log")
open_conn silent "$PORT"
open_conn partial "$PORT" 'POST /rec/'"$exc"' HTTP/1.1\r\nHost: x\r\n'
open_conn kept "$PORT" 'GET /adv HTTP/1.1\r\nHost: x\r\n\r\n'
check "a connection that sends nothing is closed by the server" \
	closed_within 10 "$silent"
check "a connection that stops in the middle of its headers is closed" \
	closed_within 10 "$partial"
check_eq "a keep-alive connection is answered ..." "HTTP/1.1 200 OK" \
	"$(timeout 5 head -1 <&"$kept" | tr -d '\r')"
check "... and closed once idle" closed_within 10 "$kept"
exec {silent}<&- {partial}<&- {kept}<&-
check "the log has a line for the silent connection" \
	wait_for "line" sh -c "tail -c +$((off + 1)) '$TEST_DIR/idle.log' |
		grep -Eq 'no valid request before the connection closed$'"
check_eq "tetherd --timeout 2 still serves" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/adv")"

# (c) Keep-alive: two requests in one curl run share a connection.
URL=$srv_url
check_eq "two GET /adv in one curl run: both 200, one connection" \
	"200 1 200 0" \
	"$(curl -s -o /dev/null -o /dev/null --max-time 10 \
		-w '%{http_code} %{num_connects}\n' "$URL/adv" "$URL/adv" |
		tr '\n' ' ' | sed 's/ $//')"
check_eq "GET /adv then POST /rec in one curl run: one connection" \
	"200 1 200 0" \
	"$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{num_connects}\n' \
		"$URL/adv" --next -s -o /dev/null --max-time 10 \
		-w '%{http_code} %{num_connects}\n' \
		--data-binary "@$TEST_DIR/req.jwk" "$URL/rec/$exc" |
		tr '\n' ' ' | sed 's/ $//')"

# (d) A burst: 200 recoveries from 16 clients at once, all answered with
# the same, right point.
mkdir "$TEST_DIR/burst"
seq 1 200 | timeout 120 xargs -P 16 -I{} \
	curl -s --max-time 20 -o "$TEST_DIR/burst/{}" \
	-w '%{http_code}\n' --data-binary "@$TEST_DIR/req.jwk" \
	"$URL/rec/$exc" >"$TEST_DIR/burst.codes"
check_eq "200 parallel recoveries: all 200" 200 \
	"$(grep -cx 200 "$TEST_DIR/burst.codes")"
check_eq "... all with the same reply" 1 \
	"$(cat "$TEST_DIR"/burst/* | sort -u | wc -l)"
check_eq "... which is jose's own exchange result" "$want" \
	"$(jose fmt -j "$TEST_DIR/burst/1" -g x -u- 2>/dev/null)"
check "tetherd is still running" kill -0 "$srv_PID"

# (e) --max-connections: with 4 idle connections held, a 5th request is
# served by closing the one that waited longest, and no more than 4 are
# held; once they close, requests are served as before. (Two threads,
# whatever the number of cores: more threads than connections is (f).)
start_tetherd lim "$keys" --max-connections 4 --threads 2 --timeout 60 \
	--request-timeout 60 ||
	{ not_ok "tetherd --max-connections 4 starts"; done_testing; exit 1; }
held=()
for i in 1 2 3 4; do
	if open_conn fd "$PORT" 'GET /adv HTTP/1.1\r\nHost: x\r\n'; then
		held+=("$fd")
	fi
done
check "four idle connections are accepted" \
	wait_for "accepted" accepted_is "$PORT" "$lim_PID" 4
check_eq "a fifth request is served" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/adv")"
check "... by closing the connection held longest" \
	closed_within 10 "${held[0]}"
check "tetherd holds no more than 4 connections" \
	test "$(accepted "$PORT" "$lim_PID")" -le 4
for fd in "${held[@]}"; do
	exec {fd}<&-
done
adv_ok() {
	test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/adv")" = 200
}
check "after they close, requests are served again" \
	wait_for "served" adv_ok
check_eq "... recoveries too" "200 $want" "$(rec "$URL")"

# (f) More worker threads than connections allowed (the default is one
# thread per core): it serves, and it still stops on SIGTERM. The wait is
# bounded here, and a hung server is killed, so a hang is a failure.
gone() { # PID: the process has exited (a zombie until waited for)
	! kill -0 "$1" 2>/dev/null || ps -o stat= -p "$1" | grep -q '^Z'
}
start_tetherd many "$keys" --threads 8 --max-connections 4 ||
	{ not_ok "tetherd --threads 8 --max-connections 4 starts"; done_testing; exit 1; }
check_eq "--threads 8 --max-connections 4: GET /adv" 200 \
	"$(http_status GET "$URL/adv")"
kill "$many_PID"
if wait_for "exit" gone "$many_PID"; then
	ok "... and it stops on SIGTERM"
else
	not_ok "... and it stops on SIGTERM" "still running 10 s after SIGTERM" \
		"threads: $(cat /proc/"$many_PID"/task/*/comm 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')"
	kill -9 "$many_PID"
fi
wait "$many_PID" 2>/dev/null

for name in slow idle srv lim; do
	pid_var=${name}_PID
	check_log_clean "$name" "${!pid_var}"
done

done_testing
