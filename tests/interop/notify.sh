#!/usr/bin/env bash
# notify = PROGRAM: run for each recovery and each denial with the audit
# event on standard input and TETHER_EVENT, TETHER_CLIENT and
# TETHER_ADDRESS set; no shell (a relative path is refused); a program
# that fails is logged; one that hangs is killed with what it started at
# the timeout while recoveries go on; past the bound on programs at once,
# events are dropped, logged and counted in the metrics; the program
# holds none of the server's sockets.
. "$(dirname "$0")/lib.sh"

mkdir -m 0700 "$TEST_DIR/keys"
out=$TEST_DIR/out
# tetherd started as root runs the program as its service user.
service_dir "$out"
C=$TEST_DIR/clients
tok=$("$TETHERD" clients add web1 --clients "$C")

# The recorder: stdin, the environment and its open descriptors, one
# set of files per run; with HANG in the environment of the server it
# then waits, in a child of its own, until killed.
cat >"$TEST_DIR/record" <<EOS
#!/bin/sh
f=$out/\$\$
cat >"\$f.json"
env | grep '^TETHER_' | sort >"\$f.env"
ls /proc/\$\$/fd >"\$f.fds"
{ id -u; grep '^NoNewPrivs:' /proc/\$\$/status; } >"\$f.who"
[ -e "$TEST_DIR/hang" ] || exit 0
sleep 1000 &
echo \$! >"\$f.sleep"
wait
EOS
chmod 755 "$TEST_DIR/record"
printf '#!/bin/sh\necho failing on purpose >&2\nexit 3\n' >"$TEST_DIR/fail"
chmod 755 "$TEST_DIR/fail"

refused() { ! timeout 20 "$TETHERD" serve --keys "$TEST_DIR/keys" \
	--listen "http://127.0.0.1:$(free_port)" "$@" >"$TEST_DIR/refused.log" 2>&1; }
check "a relative notify program is refused" refused --notify record
check "... and says why" grep -q "absolute path" "$TEST_DIR/refused.log"
check "a notify program that does not exist is refused" \
	refused --notify "$TEST_DIR/none"

# --------------------------------------------------- events and their data
start_tetherd srv "$TEST_DIR/keys" --clients "$C" --auth-fail-rate 0 \
	--notify "$TEST_DIR/record" ||
	{ not_ok "tetherd starts with --notify"; cat "$TEST_DIR/srv.log"; done_testing; exit 1; }
ok "tetherd starts with --notify"
kid=$(key_thps "$TEST_DIR/keys" deriveKey | head -n1)
# The start's wait for the server was one denial (no credentials).
runs() { ls "$out" | grep -c '\.env$'; }
check "the start's denial ran the program" wait_for "one run" sh -c "[ \$(ls '$out' | grep -c '\.env$') -ge 1 ]"
rm -f "$out"/*
check_eq "a recovery as web1" 200 "$(rec_status "http://web1:$tok@127.0.0.1:$PORT" "$kid")"
check "... runs the program" wait_for "a run" sh -c "ls '$out' | grep -q '\.env$'"
f=$(ls "$out"/*.env | head -n1); f=${f%.env}
check_eq "... with the event, client and address in its environment" \
"TETHER_ADDRESS=127.0.0.1
TETHER_CLIENT=web1
TETHER_EVENT=recovery" "$(cat "$f.env")"
check_eq "... and the audit line on its standard input" \
	"recovery web1 $kid ok 200" \
	"$(jq -r '[.event, .client, .kid, .outcome, .status] | join(" ")' "$f.json")"
check "... which the log has too" grep -qF "$(cat "$f.json")" "$TEST_DIR/srv.log"
if [ "$(id -u)" -eq 0 ]; then
	check_eq "... as the service user, with no new privileges" \
		"$(id -u "$SERVICE_USER") NoNewPrivs: 1" "$(tr '\t\n' '  ' <"$f.who" | sed 's/ *$//')"
else
	check_eq "... as the server's user, with no new privileges" \
		"$(id -u) NoNewPrivs: 1" "$(tr '\t\n' '  ' <"$f.who" | sed 's/ *$//')"
fi
check "... whose descriptors it listed" test -s "$f.fds"
check_eq "... none of the server's beyond 0, 1 and 2 (and the shell's own)" "" \
	"$(grep -vxE '[0-2]|1[0-9]|2[0-9][0-9]' "$f.fds")"
rm -f "$out"/*
check_eq "a wrong token" 401 "$(rec_status "http://web1:wrong@127.0.0.1:$PORT" "$kid")"
check "... runs the program" wait_for "a run" sh -c "ls '$out' | grep -q '\.env$'"
f=$(ls "$out"/*.env | head -n1); f=${f%.env}
check "... for a denied event" grep -qx TETHER_EVENT=denied "$f.env"
check_eq "... with the reason on its standard input" "denied wrong credentials 401" \
	"$(jq -r '[.outcome, .reason, .status] | join(" ")' "$f.json")"
check_log_clean srv "$srv_PID"

# ----------------------------------------------------------- a failing one
start_tetherd fails "$TEST_DIR/keys" --notify "$TEST_DIR/fail"
check_eq "a recovery with a failing program" 200 "$(rec_status "$URL" "$kid")"
check "... is logged with the program's status" wait_for "logged" \
	grep -q "notify: $TEST_DIR/fail exited with status 3 for a recovery event" \
	"$TEST_DIR/fails.log"
check_log_clean fails "$fails_PID"

# ------------------------------------------ hanging: killed, recoveries go on
touch "$TEST_DIR/hang"
rm -f "$out"/*
start_tetherd hangs "$TEST_DIR/keys" --notify "$TEST_DIR/record" \
	--notify-timeout 2 --notify-max 4
answered=""
for i in 1 2 3; do answered="$answered $(rec_status "$URL" "$kid")"; done
check_eq "recoveries are answered while their programs hang" " 200 200 200" "$answered"
check "a hanging program is killed at the timeout" wait_for "killed" \
	grep -q "notify: $TEST_DIR/record still ran after 2 s for a recovery event: killed" \
	"$TEST_DIR/hangs.log"
sleeper=$(cat "$(ls "$out"/*.sleep | head -n1)")
check "... which had started a process" test -n "$sleeper"
# gone PID: not running, or a zombie no one has reaped yet
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status"; }
check "... with the process it started" wait_for "sleep killed" gone "$sleeper"
check_log_clean hangs "$hangs_PID"

# ------------------------------------------------- more events than the bound
rm -f "$out"/*
MPORT=$(free_port)
start_tetherd bound "$TEST_DIR/keys" --notify "$TEST_DIR/record" \
	--notify-timeout 600 --notify-max 2 --metrics "http://127.0.0.1:$MPORT"
answered=""
for i in 1 2 3 4 5 6; do answered="$answered $(rec_status "$URL" "$kid")"; done
check_eq "six recoveries with at most two programs at once" \
	" 200 200 200 200 200 200" "$answered"
check "... two programs ran" wait_for "two" sh -c "[ \$(ls '$out' | grep -c '\.sleep$') -eq 2 ]"
dropped() {
	[ "$(curl -s "http://127.0.0.1:$MPORT/metrics" |
		awk '$1 == "tether_notify_dropped_total" { print $2 }')" = 4 ]
}
check "... the four others are counted dropped" wait_for "dropped" dropped
# logged_drops: the events the log says were dropped, in all its lines.
logged_drops() {
	[ "$(sed -n 's/.*notify: \([0-9]*\) events\{0,1\} dropped.*/\1/p' \
		"$TEST_DIR/bound.log" | awk '{ n += $1 } END { print n + 0 }')" = 4 ]
}
check "... and logged" wait_for "logged" logged_drops
check_eq "... and no more ran" 2 "$(ls "$out" | grep -c '\.env$')"
# The helper ends its programs when told to stop (the server's end alone
# would let them run to their timeout).
helper=$(pgrep -P "$bound_PID")
check "the helper is a child process of the server" test -n "$helper"
check_log_clean bound "$bound_PID"
kill "$helper" 2>/dev/null
for f in "$out"/*.sleep; do
	p=$(cat "$f")
	check "... which ends its programs on SIGTERM" wait_for "gone" \
		sh -c "[ -n '$p' ] && { ! kill -0 '$p' 2>/dev/null || grep -q '^State:.*Z' /proc/$p/status; }"
done

# ----------------------------------------------------- the shipped examples
ex=$(dirname "$0")/../../examples
printf '{"event":"denied","reason":"wrong credentials"}\n' >"$TEST_DIR/event.json"
mkdir "$TEST_DIR/bin"
printf '#!/bin/sh\necho "$*" >"%s/mail.args"\ncat >"%s/mail.txt"\n' \
	"$TEST_DIR" "$TEST_DIR" >"$TEST_DIR/bin/sendmail"
chmod 755 "$TEST_DIR/bin/sendmail"
check "notify-mail hands a message to sendmail" env TETHER_EVENT=denied \
	TETHER_CLIENT=web1 TETHER_ADDRESS=127.0.0.1 PATH="$TEST_DIR/bin:$PATH" \
	"$ex/notify-mail" <"$TEST_DIR/event.json"
check_eq "... to be sent to its recipients" "-t -i" "$(cat "$TEST_DIR/mail.args")"
check_eq "... naming the event in its subject, the event as its body" \
"To: root
Subject: tetherd: denied from 127.0.0.1 client web1
Content-Type: text/plain; charset=us-ascii

$(cat "$TEST_DIR/event.json")" "$(cat "$TEST_DIR/mail.txt")"

HPORT=$(free_port)
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "wb") as f:
            f.write(self.headers.get("X-Tether-Event", "").encode() + b" " +
                    self.headers.get("Content-Type", "").encode() + b"\n" + body)
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).handle_request()
' "$HPORT" "$TEST_DIR/hook.txt" &
test_pids+=("$!")
wait_for "hook" sh -c "ss -Htln 'sport = :$HPORT' | grep -q ." ||
	not_ok "the webhook's receiver listens"
sed "s|^URL=.*|URL=http://127.0.0.1:$HPORT/hook|" "$ex/notify-webhook" \
	>"$TEST_DIR/webhook"
check "notify-webhook posts an event" env TETHER_EVENT=denied \
	sh "$TEST_DIR/webhook" <"$TEST_DIR/event.json"
check_eq "... as JSON, with the event in a header" \
"denied application/json
$(cat "$TEST_DIR/event.json")" "$(cat "$TEST_DIR/hook.txt")"
done_testing
