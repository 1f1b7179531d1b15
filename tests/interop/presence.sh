#!/usr/bin/env bash
# Presence: a client with --heartbeat DURATION proves it is at home with
# POST /tether/heartbeat (its credential, rate limited, not a Tang
# endpoint); while its last heartbeat is recent, or before its first, it
# recovers; once the last is older than DURATION, recoveries and
# heartbeats are refused (403, audited as presence expired, counted)
# until an operator approves it, which lets it recover and heartbeat again.
. "$(dirname "$0")/lib.sh"

mkdir -m 0700 "$TEST_DIR/keys"
service_dir "$TEST_DIR/state"
C=$TEST_DIR/state/clients
A=$C.approvals
tok=$("$TETHERD" clients add pc --heartbeat 1d --clients "$C")
other=$("$TETHERD" clients add other --clients "$C")
check_eq "clients list shows the heartbeat period in seconds" \
	"pc enabled heartbeat=86400
other enabled" "$("$TETHERD" clients list --clients "$C")"
check "clients set --heartbeat off and back" sh -c \
	"'$TETHERD' clients set pc --heartbeat off --clients '$C' &&
	'$TETHERD' clients list --clients '$C' | grep -qx 'pc enabled' &&
	'$TETHERD' clients set pc --heartbeat 1d --clients '$C'"
if "$TETHERD" clients set pc --heartbeat 1y --clients "$C" 2>/dev/null; then
	not_ok "a period that is not N[smhdw] is refused"
else
	ok "a period that is not N[smhdw] is refused"
fi

MPORT=$(free_port)
OPORT=$(free_port)
start_tetherd srv "$TEST_DIR/keys" --clients "$C" --auth-fail-rate 0 \
	--audit-log "$TEST_DIR/audit.log" --metrics "http://127.0.0.1:$MPORT" \
	--listen-open "http://127.0.0.1:$OPORT" ||
	{ not_ok "tetherd starts"; cat "$TEST_DIR/srv.log"; done_testing; exit 1; }
kid=$(key_thps "$TEST_DIR/keys" deriveKey | head -n1)
PC=http://pc:$tok@127.0.0.1:$PORT
beat() { http_status POST "$1/tether/heartbeat"; }
past() {
	curl -s "http://127.0.0.1:$MPORT/metrics" |
		awk '$1 == "tether_clients_past_heartbeat" { print $2 }'
}

check_eq "before its first heartbeat, pc recovers" 200 "$(rec_status "$PC" "$kid")"
check_eq "a heartbeat: 204" 204 "$(beat "$PC")"
check "... recorded" grep -q '^pc seen [0-9]*$' "$A"
check "... listed" sh -c "'$TETHERD' approvals list --clients '$C' | grep -q '^pc heartbeat last 20'"
check_eq "with a recent heartbeat, pc recovers" 200 "$(rec_status "$PC" "$kid")"
check_eq "no client past its heartbeat" 0 "$(past)"
check_eq "a heartbeat without credentials: 401" 401 \
	"$(beat "http://127.0.0.1:$PORT")"
check_eq "GET /tether/heartbeat: 404, as Tang answers what it has not" 404 \
	"$(http_status GET "$PC/tether/heartbeat")"
check_eq "a heartbeat on a listener that asks no credentials: 404" 404 \
	"$(beat "http://127.0.0.1:$OPORT")"
check_eq "a client with no period may send heartbeats too" 204 \
	"$(beat "http://other:$other@127.0.0.1:$PORT")"

# Two days later, as far as the state says.
sed -i "s/^pc seen .*/pc seen $(($(date +%s) - 2 * 86400))/" "$A"
check_eq "past its period, pc is refused: 403" 403 "$(rec_status "$PC" "$kid")"
check_eq "... audited as presence expired" "denied presence expired 403" \
	"$(jq -r 'select(.client == "pc") | [.outcome, .reason, .status] | join(" ")' \
	"$TEST_DIR/audit.log" | tail -n1)"
check "... listed as pending for an operator" sh -c \
	"'$TETHERD' approvals list --clients '$C' | grep -q '^pc pending address 127.0.0.1 kid $kid'"
check_eq "... counted past its heartbeat" 1 "$(past)"
check_eq "... counted as a denial" 1 "$(curl -s "http://127.0.0.1:$MPORT/metrics" |
	awk '$0 ~ /^tether_denials_total\{reason="presence expired"\}/ { print $NF }')"
check_eq "a heartbeat now does not bring it back: 403" 403 "$(beat "$PC")"
check_eq "... still refused" 403 "$(rec_status "$PC" "$kid")"
check_eq "the other client is not affected" 200 \
	"$(rec_status "http://other:$other@127.0.0.1:$PORT" "$kid")"

check "an operator approves pc" "$TETHERD" approve pc --clients "$C"
check_eq "... it recovers" 200 "$(rec_status "$PC" "$kid")"
check_eq "... its heartbeats count again" 204 "$(beat "$PC")"
check_eq "... and it recovers on them" 200 "$(rec_status "$PC" "$kid")"
check_eq "no client past its heartbeat any more" 0 "$(past)"
check "promtool accepts the metrics" sh -c \
	"curl -s 'http://127.0.0.1:$MPORT/metrics' | promtool check metrics"
check_log_clean srv "$srv_PID"
done_testing
