#!/usr/bin/env bash
# Client credentials: tetherd clients add/list/disable/enable/remove, HTTP
# Basic on https listeners (real clevis through https://NAME:TOKEN@HOST),
# an open listener beside them, and revocation taking effect at the next
# request with no signal. Tokens never reach the log or the clients file.
. "$(dirname "$0")/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"

d=$TEST_DIR/pki
test_ca "$d" && test_cert "$d" srv 127.0.0.1 IP:127.0.0.1
export CURL_CA_BUNDLE=$d/ca.pem SSL_CERT_FILE=$d/ca.pem

C=$TEST_DIR/clients
tok=$("$TETHERD" clients add web1 --clients "$C")
check_eq "clients add prints a 256-bit token (43 base64url characters)" 43 \
	"$(printf %s "$tok" | grep -E '^[A-Za-z0-9_-]+$' | tr -d '\n' | wc -c)"
tok2=$("$TETHERD" clients add db-2 --clients "$C")
check "a second client gets another token" test -n "$tok2" -a "$tok2" != "$tok"
check_eq "the clients file is 0600" 600 "$(stat -c %a "$C")"
check "the file holds no token, only hashes" sh -c \
	"! grep -qF -- '$tok' '$C' && ! grep -qF -- '$tok2' '$C'"
check_eq "clients list shows names and states" "web1 enabled
db-2 enabled" "$("$TETHERD" clients list --clients "$C")"
if "$TETHERD" clients add web1 --clients "$C" >/dev/null 2>&1; then
	not_ok "adding an existing name is refused"
else
	ok "adding an existing name is refused"
fi
if "$TETHERD" clients add 'bad name' --clients "$C" >/dev/null 2>&1; then
	not_ok "a name outside A-Z a-z 0-9 . _ - is refused"
else
	ok "a name outside A-Z a-z 0-9 . _ - is refused"
fi

mkdir -m 0700 "$TEST_DIR/keys"
PORT=$(free_port)
OPEN_PORT=$(free_port)
# Failed logins are counted per address: this test makes many on purpose.
"$TETHERD" serve --keys "$TEST_DIR/keys" --clients "$C" --auth-fail-rate 0 \
	--listen "https://127.0.0.1:$PORT" \
	--listen-open "http://127.0.0.1:$OPEN_PORT" \
	--tls-cert "$d/srv.pem" --tls-key "$d/srv.key" >"$TEST_DIR/srv.log" 2>&1 &
srv_PID=$!
test_pids+=("$srv_PID")
wait_http "http://127.0.0.1:$OPEN_PORT/adv" ||
	{ not_ok "tetherd starts"; cat "$TEST_DIR/srv.log"; done_testing; exit 1; }
ok "tetherd starts with --clients, an https listener and an open one"
URL=https://127.0.0.1:$PORT
AUTH_URL=https://web1:$tok@127.0.0.1:$PORT

status() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
check_eq "no credentials: 401" 401 "$(status "$URL/adv")"
check "... with a Basic challenge" sh -c \
	"curl -s -D - -o /dev/null '$URL/adv' | grep -qi '^WWW-Authenticate: Basic'"
check_eq "a wrong token: 401" 401 "$(status "https://web1:wrong@127.0.0.1:$PORT/adv")"
check_eq "another client's token: 401" 401 "$(status "https://web1:$tok2@127.0.0.1:$PORT/adv")"
check_eq "the right token: 200" 200 "$(status "$AUTH_URL/adv")"
check_eq "the open listener asks for nothing: 200" 200 \
	"$(status "http://127.0.0.1:$OPEN_PORT/adv")"

head -c 32 /dev/urandom >"$TEST_DIR/plain"
check "clevis encrypt tang to https://NAME:TOKEN@HOST" sh -c \
	"clevis encrypt tang '{\"url\":\"$AUTH_URL\"}' -y <'$TEST_DIR/plain' >'$TEST_DIR/jwe'"
check "clevis decrypt recovers it" sh -c \
	"clevis decrypt <'$TEST_DIR/jwe' | cmp - '$TEST_DIR/plain'"
check "tether decrypts clevis's JWE with the same credentials" sh -c \
	"'$TETHER' decrypt <'$TEST_DIR/jwe' | cmp - '$TEST_DIR/plain'"
check "tether encrypts with credentials and decrypts" sh -c \
	"'$TETHER' encrypt tang '{\"url\":\"$AUTH_URL\"}' -y <'$TEST_DIR/plain' >'$TEST_DIR/t.jwe' &&
	'$TETHER' decrypt <'$TEST_DIR/t.jwe' | cmp - '$TEST_DIR/plain'"
check "tether takes the credentials as 'client' and 'token' members too" sh -c \
	"'$TETHER' encrypt tang '{\"url\":\"$URL\",\"client\":\"db-2\",\"token\":\"$tok2\"}' -y \
	<'$TEST_DIR/plain' >'$TEST_DIR/f.jwe' &&
	'$TETHER' decrypt <'$TEST_DIR/f.jwe' | cmp - '$TEST_DIR/plain'"
check_eq "... which the binding keeps beside the plain url" "db-2 $URL" \
	"$(cut -d. -f1 "$TEST_DIR/f.jwe" | jose b64 dec -i- |
	jq -r '.clevis.tang.client + " " + .clevis.tang.url')"
if "$TETHER" encrypt tang "{\"url\":\"http://127.0.0.1:$OPEN_PORT\",\"client\":\"db-2\",\"token\":\"$tok2\"}" \
	-y <"$TEST_DIR/plain" >/dev/null 2>"$TEST_DIR/err"; then
	not_ok "credentials as members are refused over plain http"
else
	check "credentials as members are refused over plain http" \
		grep -q "need an https" "$TEST_DIR/err"
fi
# ... and so are credentials in a plain http url, before anything is sent:
# binding, asking for the advertisement, and unlocking a binding that
# clevis wrote with one (clevis would send the token in clear).
PLAIN_AUTH_URL=http://web1:$tok@127.0.0.1:$OPEN_PORT
requests_before=$(grep -c ' GET \| POST ' "$TEST_DIR/srv.log")
if "$TETHER" encrypt tang "{\"url\":\"$PLAIN_AUTH_URL\"}" -y \
	<"$TEST_DIR/plain" >/dev/null 2>"$TEST_DIR/err"; then
	not_ok "credentials in an http:// url are refused, with the reason"
else
	check "credentials in an http:// url are refused, with the reason" \
		grep -q "credentials in the url need https://" "$TEST_DIR/err"
fi
if "$TETHER" adv "$PLAIN_AUTH_URL" >/dev/null 2>"$TEST_DIR/err"; then
	not_ok "... by tether adv too"
else
	check "... by tether adv too" \
		grep -q "credentials in the url need https://" "$TEST_DIR/err"
fi
clevis encrypt tang "{\"url\":\"$PLAIN_AUTH_URL\"}" -y <"$TEST_DIR/plain" \
	>"$TEST_DIR/plain-auth.jwe" 2>/dev/null
requests_between=$(grep -c ' GET \| POST ' "$TEST_DIR/srv.log")
if "$TETHER" decrypt <"$TEST_DIR/plain-auth.jwe" >/dev/null 2>"$TEST_DIR/err"; then
	not_ok "... and when unlocking a binding clevis made with one"
else
	check "... and when unlocking a binding clevis made with one" \
		grep -q "credentials in the url need https://" "$TEST_DIR/err"
fi
check_eq "... so tether sent no request but clevis's own" \
	"$((requests_before + 1)) $((requests_before + 1))" \
	"$requests_between $(grep -c ' GET \| POST ' "$TEST_DIR/srv.log")"
if clevis encrypt tang "{\"url\":\"$URL\"}" -y <"$TEST_DIR/plain" >/dev/null 2>&1; then
	not_ok "without a token clevis cannot bind"
else
	ok "without a token clevis cannot bind"
fi

# A 401 says what is wanted and how to give it; with a credential, whose.
if "$TETHER" adv "$URL" >/dev/null 2>"$TEST_DIR/err"; then
	not_ok "tether adv with no credential: the server wants one, and how to give it"
else
	check "tether adv with no credential: the server wants one, and how to give it" \
		grep -qF "$URL/adv: the server wants a client credential (HTTP 401): give it in the url as https://NAME:TOKEN@HOST, or as the binding's \"client\" and \"token\"" \
		"$TEST_DIR/err"
fi
if "$TETHER" encrypt tang "{\"url\":\"https://web1:wrong@127.0.0.1:$PORT\"}" -y \
	<"$TEST_DIR/plain" >/dev/null 2>"$TEST_DIR/err"; then
	not_ok "a wrong token: tether says the server refused client web1's credential"
else
	check "a wrong token: tether says the server refused client web1's credential" \
		grep -qF "the server refused the credential of client 'web1' (HTTP 401)" \
		"$TEST_DIR/err"
fi

# decrypts TOOL: TOOL recovers the plaintext from clevis's JWE.
decrypts() {
	if [ "$1" = tether ]; then
		"$TETHER" decrypt <"$TEST_DIR/jwe" 2>"$TEST_DIR/err" | cmp -s - "$TEST_DIR/plain"
	else
		clevis decrypt <"$TEST_DIR/jwe" 2>"$TEST_DIR/err" | cmp -s - "$TEST_DIR/plain"
	fi
}
check "clients disable web1" "$TETHERD" clients disable web1 --clients "$C"
for tool in tether clevis; do
	if decrypts "$tool"; then
		not_ok "at once, with no signal, $tool can no longer decrypt"
	else
		ok "at once, with no signal, $tool can no longer decrypt"
	fi
done
"$TETHER" decrypt <"$TEST_DIR/jwe" >/dev/null 2>"$TEST_DIR/err"
check "tether names the refusal: HTTP 403" grep -q "HTTP 403" "$TEST_DIR/err"
check_eq "the disabled client gets 403, not 401" 403 "$(status "$AUTH_URL/adv")"
check_eq "clients list shows it disabled" "web1 disabled" \
	"$("$TETHERD" clients list --clients "$C" | grep '^web1 ')"
check "the other client still works" test "$(status "https://db-2:$tok2@127.0.0.1:$PORT/adv")" = 200
check "clients enable web1" "$TETHERD" clients enable web1 --clients "$C"
check "enabled again, tether decrypts" decrypts tether
check "... and clevis too" decrypts clevis
check "clients remove web1" "$TETHERD" clients remove web1 --clients "$C"
check_eq "a removed client's token gets 401" 401 "$(status "$AUTH_URL/adv")"
check_eq "clients list no longer shows it" "db-2 enabled" \
	"$("$TETHERD" clients list --clients "$C")"

check "the log records the client of each authenticated request" \
	grep -q "POST /rec/.* 200 .* client web1" "$TEST_DIR/srv.log"
check "the log records refusals as 401 and 403" sh -c \
	"grep -q ' 401 ' '$TEST_DIR/srv.log' && grep -q ' 403 ' '$TEST_DIR/srv.log'"
check "no token ever appears in the log" sh -c \
	"! grep -qF -- '$tok' '$TEST_DIR/srv.log' && ! grep -qF -- '$tok2' '$TEST_DIR/srv.log'"

printf 'web1 maybe 00\n' >"$TEST_DIR/bad-clients"
mkdir -m 0700 "$TEST_DIR/k2"
if timeout 20 "$TETHERD" serve --keys "$TEST_DIR/k2" --clients "$TEST_DIR/bad-clients" \
	--listen "http://127.0.0.1:$(free_port)" >/dev/null 2>"$TEST_DIR/bad.err"; then
	not_ok "a malformed clients file stops the server before it starts"
else
	check "a malformed clients file stops the server, naming the line" \
		grep -q "bad-clients: line 1" "$TEST_DIR/bad.err"
fi
check_log_clean srv "$srv_PID"

done_testing
