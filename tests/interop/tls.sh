#!/usr/bin/env bash
# tetherd over TLS: an https listener beside a plain one, Debian's clevis
# binding and recovering through it with the CA in CURL_CA_BUNDLE, TLS 1.2
# and 1.3 only, and certificate problems refused before anything starts.
# tether over https: trusting a key pin or a CA carried in the binding with
# no CA store at all (as in an initramfs), or the system's store.
. "$(dirname "$0")/lib.sh"

d=$TEST_DIR/pki
cert() { test_cert "$d" "$@"; }
check "a test CA" test_ca "$d"
check "a server certificate for 127.0.0.1 and ::1" \
	cert srv 127.0.0.1 "IP:127.0.0.1,IP:::1"

mkdir -m 0700 "$TEST_DIR/keys"
PORT=$(free_port)
HTTP_PORT=$(free_port)
HTTPS=https://127.0.0.1:$PORT
"$TETHERD" serve --keys "$TEST_DIR/keys" --listen "$HTTPS" \
	--listen "http://127.0.0.1:$HTTP_PORT" \
	--tls-cert "$d/srv.pem" --tls-key "$d/srv.key" >>"$TEST_DIR/srv.log" 2>&1 &
srv_PID=$!
test_pids+=("$srv_PID")
wait_http "http://127.0.0.1:$HTTP_PORT/adv" ||
	{ not_ok "tetherd starts"; cat "$TEST_DIR/srv.log"; done_testing; exit 1; }
ok "tetherd starts with an http and an https listener"
check "the log names the https listener" \
	grep -q "listening on https://127.0.0.1:$PORT" "$TEST_DIR/srv.log"
check "the https listener serves /adv to a client trusting the CA" \
	curl -sSf --cacert "$d/ca.pem" -o /dev/null "$HTTPS/adv"
if curl -sf -o /dev/null --max-time 10 "$HTTPS/adv" 2>/dev/null; then
	not_ok "a client not trusting the CA is refused"
else
	ok "a client not trusting the CA is refused"
fi
check "the plain listener still serves /adv" \
	curl -sSf -o /dev/null "http://127.0.0.1:$HTTP_PORT/adv"

head -c 32 /dev/urandom >"$TEST_DIR/plain"
export CURL_CA_BUNDLE=$d/ca.pem
check "clevis encrypt tang over https (CA in CURL_CA_BUNDLE)" sh -c \
	"clevis encrypt tang '{\"url\":\"$HTTPS\"}' -y <'$TEST_DIR/plain' >'$TEST_DIR/jwe'"
check "clevis decrypt recovers it over https" sh -c \
	"clevis decrypt <'$TEST_DIR/jwe' | cmp - '$TEST_DIR/plain'"
unset CURL_CA_BUNDLE
if clevis decrypt <"$TEST_DIR/jwe" >/dev/null 2>&1; then
	not_ok "without the CA, clevis decrypt fails"
else
	ok "without the CA, clevis decrypt fails"
fi

# ------------------------------------------------ tether over https
: "${TETHER:?TETHER must name the tether binary}"
# No system CA store at all, as in an initramfs: only the binding's own
# trust anchor can make the server trusted.
no_ca() { SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent "$@"; }
PIN="sha256//$(openssl x509 -in "$d/srv.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
CA_JSON=$(jq -Rs . <"$d/ca.pem")
check "tether encrypt tang over https with a key pin and no CA store" sh -c \
	"$(declare -f no_ca); no_ca '$TETHER' encrypt tang \
	'{\"url\":\"$HTTPS\",\"pin\":\"$PIN\"}' -y <'$TEST_DIR/plain' >'$TEST_DIR/pin.jwe'"
check "tether decrypts it with no CA store: the pin travels in the JWE" sh -c \
	"$(declare -f no_ca); no_ca '$TETHER' decrypt <'$TEST_DIR/pin.jwe' | cmp - '$TEST_DIR/plain'"
check "clevis decrypts tether's https JWE (it ignores the pin, trusts the CA)" \
	sh -c "CURL_CA_BUNDLE='$d/ca.pem' clevis decrypt <'$TEST_DIR/pin.jwe' |
	cmp - '$TEST_DIR/plain'"
check "tether with the CA carried in the binding and no CA store" sh -c \
	"$(declare -f no_ca); no_ca '$TETHER' encrypt tang \
	'{\"url\":\"$HTTPS\",\"ca\":$CA_JSON}' -y <'$TEST_DIR/plain' >'$TEST_DIR/ca.jwe' &&
	no_ca '$TETHER' decrypt <'$TEST_DIR/ca.jwe' | cmp - '$TEST_DIR/plain'"
check "tether decrypts clevis's https JWE, trusting the CA through SSL_CERT_FILE" \
	sh -c "SSL_CERT_FILE='$d/ca.pem' '$TETHER' decrypt <'$TEST_DIR/jwe' | cmp - '$TEST_DIR/plain'"
# tether_refused DESCRIPTION REGEX CONFIG: encrypt fails, saying why.
tether_refused() {
	local rc=0
	no_ca "$TETHER" encrypt tang "$3" -y <"$TEST_DIR/plain" >"$TEST_DIR/r.out" \
		2>"$TEST_DIR/r.err" || rc=$?
	if [ "$rc" -ne 0 ] && [ ! -s "$TEST_DIR/r.out" ] &&
		grep -Eq -- "$2" "$TEST_DIR/r.err"; then
		ok "$1"
	else
		not_ok "$1" "exit $rc" "$(cat "$TEST_DIR/r.err")"
	fi
}
tether_refused "with no trust anchor and no CA store, https is refused" \
	"certificate not trusted" "{\"url\":\"$HTTPS\"}"
tether_refused "a pin of another key is refused" "does not match the pinned" \
	"{\"url\":\"$HTTPS\",\"pin\":\"sha256//$(head -c 32 /dev/urandom | base64)\"}"
tether_refused "a malformed pin is refused" "sha256//" \
	"{\"url\":\"$HTTPS\",\"pin\":\"md5//abc\"}"
tether_refused "a pin on an http url is refused" "need an https" \
	"{\"url\":\"http://127.0.0.1:$HTTP_PORT\",\"pin\":\"$PIN\"}"
tether_refused "a certificate the CA signed for other names than the host is refused" \
	"certificate not trusted" \
	"{\"url\":\"https://localhost:$PORT\",\"ca\":$CA_JSON}"

# handshake VERSION: the protocol openssl negotiated, or nothing.
handshake() {
	echo | timeout 20 openssl s_client "-$1" -connect "127.0.0.1:$PORT" \
		-CAfile "$d/ca.pem" 2>/dev/null |
		sed -n 's/^New, \(TLSv[0-9.]*\), Cipher is .*/\1/p' | head -n 1
}
check_eq "TLS 1.3 is offered" "TLSv1.3" "$(handshake tls1_3)"
check_eq "TLS 1.2 is offered" "TLSv1.2" "$(handshake tls1_2)"
if echo | timeout 20 openssl s_client -tls1_1 -connect "127.0.0.1:$PORT" \
	-CAfile "$d/ca.pem" 2>/dev/null | grep -q 'Cipher is (NONE)'; then
	ok "TLS 1.1 is refused"
else
	not_ok "TLS 1.1 is refused"
fi
check_eq "TLS 1.2 gets an AEAD cipher with forward secrecy" "yes" \
	"$(echo | timeout 20 openssl s_client -tls1_2 -connect "127.0.0.1:$PORT" \
		-CAfile "$d/ca.pem" 2>/dev/null |
		grep -Eq 'Cipher is ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM|CHACHA20)' &&
		echo yes)"
check_eq "a plain-HTTP request to the https port gets no HTTP answer" "000" \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/adv")"
check "tetherd still serves after all that" \
	curl -sSf --cacert "$d/ca.pem" -o /dev/null "$HTTPS/adv"

# refused PORT-ARGS... DESCRIPTION REGEX: tetherd exits non-zero at once,
# saying why, and creates no keys.
refused() {
	local desc=$1 regex=$2 rc=0
	shift 2
	rm -rf "$TEST_DIR/k2"
	mkdir -m 0700 "$TEST_DIR/k2"
	timeout 20 "$TETHERD" serve --keys "$TEST_DIR/k2" "$@" \
		>/dev/null 2>"$TEST_DIR/refused.err" || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
		grep -Eq -- "$regex" "$TEST_DIR/refused.err" &&
		[ -z "$(ls -A "$TEST_DIR/k2")" ]; then
		ok "$desc"
	else
		not_ok "$desc" "exit $rc" "$(cat "$TEST_DIR/refused.err")"
	fi
}
p=$(free_port)
refused "https without a certificate is refused" "needs --tls-cert" \
	--listen "https://127.0.0.1:$p"
refused "--tls-cert without --tls-key is refused" "go together" \
	--listen "https://127.0.0.1:$p" --tls-cert "$d/srv.pem"
chmod 644 "$d/srv.key"
refused "a key readable by others is refused" "readable by others" \
	--listen "https://127.0.0.1:$p" --tls-cert "$d/srv.pem" --tls-key "$d/srv.key"
chmod 600 "$d/srv.key"
refused "a missing certificate file is refused, naming it" "nope.pem" \
	--listen "https://127.0.0.1:$p" --tls-cert "$d/nope.pem" --tls-key "$d/srv.key"
printf 'not a certificate\n' >"$d/junk.pem"
refused "a file that is not PEM is refused" "not a PEM file" \
	--listen "https://127.0.0.1:$p" --tls-cert "$d/junk.pem" --tls-key "$d/srv.key"
check_log_clean srv "$srv_PID"

done_testing
