#!/usr/bin/env bash
# The client's programs load no libjose: its constructor alone seeds
# OpenSSL's DRBG, a third of a `tether decrypt`, and it is one library
# fewer in an initramfs. tetherd may still link it. Nor do they link
# libssl or zlib: they are loaded the first time a URL is https or a JWE
# is compressed. With them hidden, an http binding still decrypts and
# an https or compressed one is refused saying what is missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

: "${TETHER:?TETHER must name the tether binary}"
: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the token plugin}"
tether_luks=$(dirname "$TETHER")/tether-luks

# no_libjose NAME FILE: one TAP line, failing with the list of libraries.
no_libjose() {
	local libs
	if ! libs=$(ldd "$2" 2>&1); then
		not_ok "$1 links no libjose" "ldd failed:" "$libs"
	elif grep -q 'libjose' <<<"$libs"; then
		not_ok "$1 links no libjose" "$libs"
	else
		ok "$1 links no libjose"
	fi
}

no_libjose tether "$TETHER"
no_libjose tether-luks "$tether_luks"
no_libjose "the token plugin" "$TETHER_TOKEN_PLUGIN"

# Nor is any of libjose's symbols left for another library to resolve.
check_eq "tether needs no jose_* symbol" "" \
	"$(nm -D --undefined-only "$TETHER" | awk '$2 ~ /^jose_/ { print $2 }')"

# ------------------------------------------------ libssl and zlib on demand
for lib in libssl libz; do
	for f in tether:"$TETHER" tether-luks:"$tether_luks" "the token plugin:$TETHER_TOKEN_PLUGIN"; do
		check "${f%%:*} links no $lib (loaded when needed)" \
			sh -c "! ldd '${f#*:}' | grep -q '$lib\.'"
	done
done

PLAIN=$TEST_DIR/plain
head -c 64 /dev/urandom >"$PLAIN"
d=$TEST_DIR/tls
mkdir -m 0700 "$d" "$TEST_DIR/keys"
test_ca "$d" && test_cert "$d" srv 127.0.0.1 "IP:127.0.0.1" ||
	not_ok "a test CA and server certificate"
start_tetherd srv "$TEST_DIR/keys" || not_ok "tetherd starts" "$(tail -n 5 "$TEST_DIR/srv.log")"
HTTP_URL=$URL
HTTPS_URL=https://127.0.0.1:$(free_port)
"$TETHERD" serve --keys "$TEST_DIR/keys" --listen "$HTTPS_URL" --rec-rate 0 \
	--tls-cert "$d/srv.pem" --tls-key "$d/srv.key" >>"$TEST_DIR/tls.log" 2>&1 &
test_pids+=("$!")
for _ in $(seq 1 100); do
	curl -s --cacert "$d/ca.pem" --max-time 1 -o /dev/null "$HTTPS_URL/adv" && break
	sleep 0.1
done
thp=$(key_thps "$TEST_DIR/keys" verify)
ca=$(jq -Rs . <"$d/ca.pem")
trun "$PLAIN" "$TEST_DIR/http.jwe" encrypt tang "{\"url\":\"$HTTP_URL\",\"thp\":\"$thp\"}"
expect_ok "tether encrypt tang over http"
trun "$PLAIN" "$TEST_DIR/https.jwe" encrypt tang \
	"{\"url\":\"$HTTPS_URL\",\"thp\":\"$thp\",\"ca\":$ca}"
expect_ok "tether encrypt tang over https, the CA in the binding"
check "a compressed null JWE of the plaintext" zip_null "$TEST_DIR/zip.jwe" <"$PLAIN"
recovers "with every library: the https binding decrypts" tether "$TEST_DIR/https.jwe"
recovers "... and the compressed JWE" tether "$TEST_DIR/zip.jwe"

# without NAME SONAME GLOB JWE MESSAGE: with the library hidden, the http
# binding still decrypts and JWE is refused with MESSAGE.
without() {
	local name=$1 soname=$2 glob=$3 jwe=$4 message=$5
	if ! tether_without "$name" "$soname" "$glob"; then
		skip "$soname hidden in a private mount namespace" \
			"no private mount namespaces, overlay mounts or whiteouts here"
		return
	fi
	TETHER=$TEST_DIR/tether-no-$name recovers \
		"$soname hidden: the http binding still decrypts" tether "$TEST_DIR/http.jwe"
	TETHER=$TEST_DIR/tether-no-$name trun "$jwe" "$TEST_DIR/out" decrypt
	expect_refused "$soname hidden: $(basename "$jwe") is refused, saying what is missing" \
		"$TEST_DIR/out" "$message"
}
without ssl libssl.so.3 'libssl.so*' "$TEST_DIR/https.jwe" \
	"https needs OpenSSL's libssl \(libssl\.so\.3\)"
without z libz.so.1 'libz.so*' "$TEST_DIR/zip.jwe" \
	"a compressed JWE needs zlib \(libz\.so\.1\)"

done_testing
