#!/usr/bin/env bash
# The metrics listener: refused where a Tang listener is and over https;
# Prometheus's promtool accepts what it serves; recoveries made are
# counted by outcome and client, refusals by reason, every request in the
# latency histogram; names that did not authenticate never become labels;
# the keys advertised and the last reload's result are there.
. "$(dirname "$0")/lib.sh"

if ! command -v promtool >/dev/null; then
	skip "metrics" "promtool (Debian's prometheus package) is not installed"
	done_testing
	exit
fi

mkdir -m 0700 "$TEST_DIR/keys"
C=$TEST_DIR/clients
tok=$("$TETHERD" clients add web1 --clients "$C")
off=$("$TETHERD" clients add off --clients "$C")
"$TETHERD" clients disable off --clients "$C"

# refused SETTINGS...: tetherd serve refuses to start with them.
refused() {
	! timeout 20 "$TETHERD" serve --keys "$TEST_DIR/keys" "$@" \
		>"$TEST_DIR/refused.log" 2>&1
}
P=$(free_port)
check "--metrics on a Tang listener's address is refused" \
	refused --listen "http://127.0.0.1:$P" --metrics "http://127.0.0.1:$P"
check "... and says why" grep -q "a Tang listener is there" "$TEST_DIR/refused.log"
check "--metrics on the wildcard address of a Tang listener's port is refused" \
	refused --listen "http://127.0.0.1:$P" --metrics "http://0.0.0.0:$P"
check "--metrics over https is refused" \
	refused --listen "http://127.0.0.1:$P" --metrics "https://127.0.0.1:$(free_port)"

MPORT=$(free_port)
M=http://127.0.0.1:$MPORT
printf 'clients = %s\nmetrics = %s\n' "$C" "$M" >"$TEST_DIR/tetherd.conf"
start_tetherd srv "$TEST_DIR/keys" --config "$TEST_DIR/tetherd.conf" \
	--auth-fail-rate 0 ||
	{ not_ok "tetherd starts with metrics"; cat "$TEST_DIR/srv.log"; done_testing; exit 1; }
ok "tetherd starts with metrics = URL in its config file"
AUTH=http://web1:$tok@127.0.0.1:$PORT

check_eq "GET /metrics answers 200" 200 "$(http_status GET "$M/metrics")"
check_eq "... with Prometheus's content type" \
	"text/plain; version=0.0.4; charset=utf-8" \
	"$(curl -s -o /dev/null -w '%{content_type}' "$M/metrics")"
check_eq "another path on the metrics listener: 404" 404 "$(http_status GET "$M/adv")"
check_eq "POST /metrics: 405" 405 "$(http_status POST "$M/metrics")"
check_eq "/metrics on the Tang listener is not served" 404 \
	"$(http_status GET "$AUTH/metrics")"

kid=$(key_thps "$TEST_DIR/keys" deriveKey | head -n1)
rec() { rec_status "$@"; }

# Recoveries made, each answered as expected: 7 as web1 (5 recovered, 2
# for a key that is not there), 4 refused (2 wrong tokens, one with a
# guessed name, one for the disabled client).
made=0 answered=""
for i in 1 2 3 4 5; do answered="$answered $(rec "$AUTH" "$kid")"; made=$((made + 1)); done
for i in 1 2; do answered="$answered $(rec "$AUTH" nosuchkey)"; made=$((made + 1)); done
answered="$answered $(rec "http://web1:wrong@127.0.0.1:$PORT" "$kid")"
answered="$answered $(rec "http://guessed-name:wrong@127.0.0.1:$PORT" "$kid")"
answered="$answered $(rec "http://off:$off@127.0.0.1:$PORT" "$kid")"
answered="$answered $(rec "http://127.0.0.1:$PORT" "$kid")"
made=$((made + 4))
check_eq "the recoveries are answered as expected" \
	" 200 200 200 200 200 404 404 401 401 403 401" "$answered"

curl -s "$M/metrics" >"$TEST_DIR/m1"
check "promtool check metrics accepts the exposition" \
	sh -c "promtool check metrics <'$TEST_DIR/m1'"
# value FILE SERIES: the sample of SERIES, exactly as named.
value() {
	awk -v k="$2 " 'substr($0, 1, length(k)) == k { print $NF }' "$1"
}
check_eq "5 recoveries counted ok for web1" 5 \
	"$(value "$TEST_DIR/m1" 'tether_recoveries_total{outcome="ok",client="web1"}')"
check_eq "2 counted failed for web1" 2 \
	"$(value "$TEST_DIR/m1" 'tether_recoveries_total{outcome="failed",client="web1"}')"
check_eq "4 counted denied, with no client (none authenticated)" 4 \
	"$(value "$TEST_DIR/m1" 'tether_recoveries_total{outcome="denied",client=""}')"
check_eq "as many counted as made" "$made" \
	"$(grep '^tether_recoveries_total' "$TEST_DIR/m1" | awk '{ n += $NF } END { print n }')"
check_eq "denials by reason: 2 wrong credentials" 2 \
	"$(value "$TEST_DIR/m1" 'tether_denials_total{reason="wrong credentials"}')"
check_eq "... 1 client disabled" 1 \
	"$(value "$TEST_DIR/m1" 'tether_denials_total{reason="client disabled"}')"
# And the start's wait for the server, a GET /adv with none.
check_eq "... 2 no credentials" 2 \
	"$(value "$TEST_DIR/m1" 'tether_denials_total{reason="no credentials"}')"
check "a name that did not authenticate is no label" \
	sh -c "! grep -q 'guessed-name\|client=\"off\"' '$TEST_DIR/m1'"
check_eq "every recovery is in the latency histogram" "$made" \
	"$(value "$TEST_DIR/m1" 'tether_request_duration_seconds_count{route="rec"}')"
check_eq "... its +Inf bucket holds them all" "$made" \
	"$(value "$TEST_DIR/m1" 'tether_request_duration_seconds_bucket{route="rec",le="+Inf"}')"
check_eq "the keys advertised" "$(ls "$TEST_DIR/keys"/*.jwk | wc -l)" \
	"$(value "$TEST_DIR/m1" tether_keys_advertised)"
check_eq "no reload yet" 0 "$(value "$TEST_DIR/m1" tether_last_reload_time_seconds)"

# A connection held open is counted while it is.
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
open_now() { [ "$(curl -s "$M/metrics" | value /dev/stdin tether_open_connections)" = "$1" ]; }
check "an open connection is counted" wait_for "one open" open_now 1
exec 7>&-
check "... and no longer once closed" wait_for "none open" open_now 0

# reload_logged N: waits for the Nth "reload" line in the log.
reload_logged() {
	[ "$(grep -c 'reloaded settings\|reload failed' "$TEST_DIR/srv.log")" -ge "$1" ]
}
kill -HUP "$srv_PID"
check "a reload" wait_for reload reload_logged 1
curl -s "$M/metrics" >"$TEST_DIR/m2"
check_eq "... counted ok" 1 "$(value "$TEST_DIR/m2" 'tether_reloads_total{result="ok"}')"
check_eq "... the last one succeeded" 1 "$(value "$TEST_DIR/m2" tether_last_reload_success)"
check "... at a time after the start" sh -c "[ $(value "$TEST_DIR/m2" tether_last_reload_time_seconds) \
	-ge $(value "$TEST_DIR/m2" tether_start_time_seconds) ]"
echo 'no-such-setting = 1' >>"$TEST_DIR/tetherd.conf"
kill -HUP "$srv_PID"
check "a reload with a bad config file" wait_for reload reload_logged 2
curl -s "$M/metrics" >"$TEST_DIR/m3"
check_eq "... counted failed" 1 "$(value "$TEST_DIR/m3" 'tether_reloads_total{result="failed"}')"
check_eq "... the last one did not succeed" 0 "$(value "$TEST_DIR/m3" tether_last_reload_success)"
check "... and promtool still accepts it" sh -c "promtool check metrics <'$TEST_DIR/m3'"

check_log_clean srv "$srv_PID"

# The metrics socket from systemd (tetherd-metrics.socket): the one way
# to a metrics listener under tetherd.service's private network.
tp=$(free_port)
mp=$(free_port)
while [ "$mp" = "$tp" ]; do mp=$(free_port); done
systemd-socket-activate -l "127.0.0.1:$tp" -l "127.0.0.1:$mp" \
	--fdname=tetherd:metrics "$TETHERD" serve --keys "$TEST_DIR/keys" \
	>>"$TEST_DIR/sa.log" 2>&1 &
sa_PID=$!
test_pids+=("$sa_PID")
check "a socket-activated tetherd with a socket named metrics answers" \
	wait_http "http://127.0.0.1:$tp/adv"
check_eq "... serves the metrics on that socket" 200 \
	"$(http_status GET "http://127.0.0.1:$mp/metrics")"
check "... which promtool accepts" sh -c \
	"curl -s 'http://127.0.0.1:$mp/metrics' | promtool check metrics"
check_eq "... and not on the Tang socket" 404 \
	"$(http_status GET "http://127.0.0.1:$tp/metrics")"
check_log_clean sa "$sa_PID"
tp=$(free_port)
mp=$(free_port)
while [ "$mp" = "$tp" ]; do mp=$(free_port); done
check "a socket named metrics and a metrics setting together are refused" \
	sh -c "! timeout 20 systemd-socket-activate -l '127.0.0.1:$tp' \
	-l '127.0.0.1:$mp' --fdname=tetherd:metrics '$TETHERD' serve \
	--keys '$TEST_DIR/keys' --metrics 'http://127.0.0.1:$(free_port)' \
	>'$TEST_DIR/both.log' 2>&1 </dev/null & pid=\$!; sleep 0.1; \
	curl -s -o /dev/null --max-time 5 'http://127.0.0.1:$tp/adv'; wait \$pid"
check "... saying so" grep -q "the socket named metrics must be" "$TEST_DIR/both.log"
done_testing
