#!/usr/bin/env bash
# Requests read as strictly as tangd reads them, by tetherd serve and by
# the tetherd KEYSDIR stand-in, with real tangd as the oracle: a path is
# routed as sent (a query, a fragment or a %XX makes it unknown: 404), and
# a body whose end is ambiguous, or framed by a coding other than chunked,
# is refused and its connection closed, never answered on a kept one or
# held until the timeout.
. "$(dirname "$0")/lib.sh"

mkdir -m 0700 "$TEST_DIR/tangd-keys" "$TEST_DIR/serve-keys" \
	"$TEST_DIR/standin-keys"
"$TANGD_KEYGEN" "$TEST_DIR/tangd-keys" >/dev/null 2>&1
start_tangd tangd "$TEST_DIR/tangd-keys" ||
	{ not_ok "tangd starts"; done_testing; exit 1; }
tangd_PORT=$PORT
start_tetherd serve "$TEST_DIR/serve-keys" ||
	{ not_ok "tetherd serve starts"; done_testing; exit 1; }
serve_PORT=$PORT
start_standin standin "$TEST_DIR/standin-keys" ||
	{ not_ok "the stand-in starts"; done_testing; exit 1; }
standin_PORT=$PORT
ok "tangd, tetherd serve and the stand-in answer"
servers="tangd serve standin"

# ------------------------------------------------------------ routes

# status SERVER METHOD TARGET [CURL ARGS...]: the status for TARGET sent
# exactly as given (curl would drop a fragment and may rewrite the rest).
status() {
	local port
	eval "port=\$${1}_PORT"
	http_status "$2" "http://127.0.0.1:$port/" --request-target "$3" \
		"${@:4}"
}

# pct_first KID: KID with its first character percent-encoded.
pct_first() {
	printf '%%%02X%s' "'${1:0:1}" "${1:1}"
}

jose jwk gen -i '{"alg":"ECMR","crv":"P-521"}' |
	jose jwk pub -i- -o "$TEST_DIR/req.jwk"
for srv in $servers; do
	eval "port=\$${srv}_PORT"
	sig=$(adv_signing_thps "http://127.0.0.1:$port" | head -1)
	exc=$(key_thps "$TEST_DIR/$srv-keys" deriveKey | head -1)
	check_eq "$srv: GET /adv/{signing kid}: 200" 200 \
		"$(status "$srv" GET "/adv/$sig")"
	check_eq "$srv: POST /rec/{exchange kid}: 200" 200 \
		"$(status "$srv" POST "/rec/$exc" \
		--data-binary "@$TEST_DIR/req.jwk")"
	for target in "/adv?x" "/adv?" "/adv/?x" "/adv#x" "/adv/$sig?x" \
		"/adv/$sig%00" "/adv/$(pct_first "$sig")" "/adv/$sig#x" \
		"/%61dv/$sig"; do
		check_eq "$srv: GET $target: 404" 404 \
			"$(status "$srv" GET "$target")"
	done
	for target in "/rec/$exc?x" "/rec/$(pct_first "$exc")"; do
		check_eq "$srv: POST $target: 404" 404 \
			"$(status "$srv" POST "$target" \
			--data-binary "@$TEST_DIR/req.jwk")"
	done
done

# ----------------------------------------------------------- framing

# reply SERVER BYTES (printf %b): the reply's status ("" for none) and
# whether the server closed the connection within 5 s: "closed" or "open".
reply() {
	local port rc
	eval "port=\$${1}_PORT"
	printf '%b' "$2" >"$TEST_DIR/raw.in"
	: >"$TEST_DIR/raw.out"
	# One write: the server may answer and close after the head.
	rc=$( (
		trap '' PIPE
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		cat "$TEST_DIR/raw.in" >&3
		timeout 5 cat <&3 >"$TEST_DIR/raw.out"
		echo $?
	) 2>/dev/null)
	printf '%s %s\n' "$(head -1 "$TEST_DIR/raw.out" | cut -d' ' -f2)" \
		"$([ "$rc" = 0 ] && echo closed || echo open)"
}

two_lengths='GET /adv HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello'
length_and_chunked='POST /rec/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
gzip='POST /rec/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'
gzip_chunked='POST /rec/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
same_length='GET /adv HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'

# tangd's parser gives up on each of these: it closes without an answer.
for req in two_lengths length_and_chunked gzip; do
	check_eq "tangd closes on $req without answering" " closed" \
		"$(reply tangd "${!req}")"
done
check_eq "serve: two Content-Length values that differ: 400, closed" \
	"400 closed" "$(reply serve "$two_lengths")"
check_eq "serve: Content-Length with chunked: 400, closed" \
	"400 closed" "$(reply serve "$length_and_chunked")"
check_eq "serve: an unknown transfer coding: 501 at once, closed" \
	"501 closed" "$(reply serve "$gzip")"
check_eq "serve: a coding list other than chunked alone: 501, closed" \
	"501 closed" "$(reply serve "$gzip_chunked")"
check_eq "serve: the same Content-Length twice is one length: 200" \
	"200 closed" "$(reply serve "$same_length")"
check_eq "stand-in: two Content-Length values that differ: 400, closed" \
	"400 closed" "$(reply standin "$two_lengths")"
check_eq "stand-in: Content-Length with chunked: 501 (it reads no coding), closed" \
	"501 closed" "$(reply standin "$length_and_chunked")"
check_eq "stand-in: an unknown transfer coding: 501, closed" \
	"501 closed" "$(reply standin "$gzip")"
check_eq "stand-in: the same Content-Length twice is one length: 200" \
	"200 closed" "$(reply standin "$same_length")"

log=$TEST_DIR/serve.log
check "serve logs the refusals" sh -c \
	"grep -Eq '^127\\.0\\.0\\.1:[0-9]+ GET /adv 400 ' '$log' &&
	 grep -Eq '^127\\.0\\.0\\.1:[0-9]+ POST /rec/x 501 ' '$log'"
check "... and audits them as denied, with the reason" sh -c \
	"grep -q '\"event\":\"denied\".*\"status\":501,\"reason\":\"transfer coding not supported\"' '$log' &&
	 grep -q '\"event\":\"denied\".*\"status\":400,\"reason\":\"ambiguous body length\"' '$log'"
check_eq "serve still answers" 200 "$(status serve GET /adv)"
check_log_clean serve "$serve_PID"
check "the stand-in's log has no sanitizer report" \
	sh -c "! grep -E 'Sanitizer|runtime error' '$TEST_DIR/standin.log'"

done_testing
