#!/usr/bin/env bash
# Bad input gets Tang's exact 4xx, a log line and nothing worse: the server
# keeps answering. Valid requests work with kids in every thumbprint hash,
# /rec agrees with jose's own exchange, and no advertisement ever carries a
# private key (Tang's CVE-2021-4076), before and after a rotation.
. "$(dirname "$0")/lib.sh"

keys=$TEST_DIR/keys
mkdir -m 0700 "$keys"
start_tetherd srv "$keys" || { not_ok "tetherd starts"; done_testing; exit 1; }
ok "tetherd starts on an empty keys directory"
log=$TEST_DIR/srv.log
hashes="S1 S224 S256 S384 S512"

sig=$(key_thps "$keys" verify)
exc=$(key_thps "$keys" deriveKey)
sig_file=$keys/$sig.jwk
exc_file=$keys/$exc.jwk
check "the new directory has one signing and one exchange key" \
	test -f "$sig_file" -a -f "$exc_file"

# The client's ephemeral key, as clevis makes it, and variants of it.
jose jwk gen -i '{"alg":"ECMR","crv":"P-521"}' -o "$TEST_DIR/client.jwk"
jose jwk pub -i "$TEST_DIR/client.jwk" -o "$TEST_DIR/req.jwk"
unknown=$(jose jwk thp -i "$TEST_DIR/req.jwk" -a S256)
req=$(cat "$TEST_DIR/req.jwk")
with() { # NAME JSON: the request key with member NAME set to JSON
	jose fmt -j "$TEST_DIR/req.jwk" -j "$2" -s "$1" -U -o-
}

# A point that is not on the curve: y with its last byte changed stays in
# range and keeps its exact length (88 characters), but only y and p - y
# lie on the curve with this x.
y=$(jose fmt -j "$req" -g y -u-)
printf '%s' "$y" | jose b64 dec -i- -O "$TEST_DIR/y.bin"
last=$(tail -c 1 "$TEST_DIR/y.bin" | od -An -tu1 | tr -d ' ')
off_y=$({ head -c 65 "$TEST_DIR/y.bin"; printf '%b' "\\0$(printf %o $((last ^ 1)))"; } |
	jose b64 enc -I-)
x=$(jose fmt -j "$req" -g x -u-)
short_x=$(printf '%s' "$x" | jose b64 dec -i- | tail -c 65 | jose b64 enc -I-)
long_x=$(printf '%s' "$x" | jose b64 dec -i- | { printf '\0'; cat; } |
	jose b64 enc -I-)
check_eq "the changed y keeps the length of a P-521 coordinate" \
	"${#y}" "${#off_y}"
check "... and differs from the real one" test "$off_y" != "$y"
jose jwk gen -i '{"alg":"ECMR","crv":"P-256"}' |
	jose jwk pub -i- -o "$TEST_DIR/p256.jwk"

# log_has OFFSET REGEX: the log, from byte OFFSET on, has a line matching.
log_has() {
	tail -c +"$(($1 + 1))" "$log" | grep -Eq -- "$2"
}

# after_request DESCRIPTION OFFSET LOGREGEX: the server still serves /adv
# and logged the request that was just made.
after_request() {
	check_eq "... /adv still answers after $1" 200 \
		"$(http_status GET "$URL/adv")"
	check "... and the log has a line for $1" \
		wait_for "log line" log_has "$2" "$3"
}

# expect DESCRIPTION STATUS METHOD PATH [CURL ARGS...]
expect() {
	local desc=$1 want=$2 method=$3 path=$4 off
	shift 4
	off=$(stat -c %s "$log")
	check_eq "$desc: $want" "$want" "$(http_status "$method" "$URL$path" "$@")"
	after_request "$desc" "$off" \
		"^127\\.0\\.0\\.1:[0-9]+ $method $path $want [0-9]+\\.[0-9]{3}ms$"
}

# post DESCRIPTION STATUS PATH BODY
post() {
	expect "$1" "$2" POST "$3" --data-binary "$4" \
		-H 'Content-Type: application/jwk+json'
}

# Routes and methods.
expect "an unknown path" 404 GET /nothing-here
expect "the root path" 404 GET /
expect "GET /rec/{kid}" 405 GET "/rec/$exc"
expect "POST /adv" 405 POST /adv
expect "PUT /adv" 405 PUT /adv
expect "PUT /adv/{kid}" 405 PUT "/adv/$sig"
expect "PUT /rec/{kid}" 405 PUT "/rec/$exc" --data-binary "$req"
expect "GET /adv/{unknown kid}" 404 GET "/adv/$unknown"
expect "GET /adv/{exchange key kid}" 404 GET "/adv/$exc"
post "POST /rec/{unknown kid} with a valid key" 404 "/rec/$unknown" "$req"

# The request body.
post "a body that is not JSON" 400 "/rec/$exc" 'not json'
post "an empty body" 400 "/rec/$exc" ''
post "a JSON array" 400 "/rec/$exc" "[$req]"
post "a JSON string" 400 "/rec/$exc" '"EC"'
post "key_ops without deriveKey" 403 "/rec/$exc" \
	"$(with key_ops '["sign"]')"
post "kty oct" 400 "/rec/$exc" '{"kty":"oct","k":"AAAA"}'
post "alg ECDH-ES" 400 "/rec/$exc" "$(with alg '"ECDH-ES"')"
post "alg not a string" 400 "/rec/$exc" "$(with alg 5)"
post "POST /rec/{signing key kid}" 403 "/rec/$sig" "$req"
post "a P-256 key against the P-521 exchange key" 400 "/rec/$exc" \
	"$(cat "$TEST_DIR/p256.jwk")"
post "a P-521 point that is not on the curve" 400 "/rec/$exc" \
	"$(with y "\"$off_y\"")"
post "an x coordinate one byte short" 400 "/rec/$exc" \
	"$(with x "\"$short_x\"")"
post "an x coordinate one byte long" 400 "/rec/$exc" \
	"$(with x "\"$long_x\"")"
post "an empty y coordinate" 400 "/rec/$exc" "$(with y '""')"

# Sizes: the valid key padded with white space to exactly the limit is
# accepted, one byte more is not, however the body is framed.
pad() { # SIZE: the request key padded with spaces to SIZE bytes
	printf '%s' "$req"
	head -c $(($1 - ${#req})) /dev/zero | tr '\0' ' '
}
pad 16384 >"$TEST_DIR/body-limit"
pad 16385 >"$TEST_DIR/body-over"
pad 65536 >"$TEST_DIR/body-big"
check_eq "a 16 KiB body is accepted" 200 \
	"$(http_status POST "$URL/rec/$exc" --data-binary "@$TEST_DIR/body-limit")"
expect "a 16 KiB + 1 body with Content-Length" 413 POST "/rec/$exc" \
	--data-binary "@$TEST_DIR/body-over"
expect "a 64 KiB body with Content-Length" 413 POST "/rec/$exc" \
	--data-binary "@$TEST_DIR/body-big"
expect "a 16 KiB + 1 body, chunked" 413 POST "/rec/$exc" \
	-H 'Transfer-Encoding: chunked' --data-binary "@$TEST_DIR/body-over"
expect "a 64 KiB body, chunked" 413 POST "/rec/$exc" \
	-H 'Transfer-Encoding: chunked' --data-binary "@$TEST_DIR/body-big"

long=$(head -c 4100 /dev/zero | tr '\0' a)
off=$(stat -c %s "$log")
check_eq "a path longer than 4096: 414" 414 "$(http_status GET "$URL/$long")"
after_request "a path longer than 4096" "$off" \
	"^127\\.0\\.0\\.1:[0-9]+ GET /a{100}a* 414 [0-9]+\\.[0-9]{3}ms$"
off=$(stat -c %s "$log")
check_eq "a kid longer than 4096: 414" 414 \
	"$(http_status POST "$URL/rec/$long" --data-binary "$req")"
after_request "a kid longer than 4096" "$off" \
	"^127\\.0\\.0\\.1:[0-9]+ POST /rec/a{100}a* 414 [0-9]+\\.[0-9]{3}ms$"

# Malformed HTTP, sent raw: the library answers it (or, for a request line
# it cannot split at all, closes the connection), no handler runs, and the
# connection's end is logged.
raw() { # BYTES (printf %b): the reply goes to $TEST_DIR/raw.out; prints
	# 0 once the server has closed the connection, 124 after 5 s without
	# (one write: the server may answer and close after the first line,
	# and a later write would then fail and lose the answer)
	printf '%b' "$1" >"$TEST_DIR/raw.in"
	: >"$TEST_DIR/raw.out"
	(
		trap '' PIPE
		exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
		cat "$TEST_DIR/raw.in" >&3
		timeout 5 cat <&3 >"$TEST_DIR/raw.out"
		echo $?
	) 2>/dev/null
}
status_line() { head -1 "$TEST_DIR/raw.out" | tr -d '\r'; }
no_valid_request='^127\.0\.0\.1:[0-9]+ - - - [0-9]+\.[0-9]{3}ms no valid request before the connection closed$'
malformed() { # DESCRIPTION BYTES STATUS-LINE ("" for no answer)
	local off closed
	off=$(stat -c %s "$log")
	closed=$(raw "$2")
	check_eq "$1: ${3:-no answer}" "$3" "$(status_line)"
	check_eq "... and the server closes the connection" 0 "$closed"
	after_request "$1" "$off" "$no_valid_request"
}
malformed "a garbage request line" 'HELLO WORLD FOO BAR\r\n\r\n' \
	'HTTP/1.1 400 Bad Request'
malformed "a request line with four parts" \
	'GET /adv HTTP/1.1 extra\r\nHost: x\r\n\r\n' 'HTTP/1.1 400 Bad Request'
malformed "a header line without a colon" \
	'GET /adv HTTP/1.1\r\nNoColonHere\r\n\r\n' 'HTTP/1.1 400 Bad Request'
malformed "HTTP/1.1 without Host" 'GET /adv HTTP/1.1\r\n\r\n' \
	'HTTP/1.1 400 Bad Request'
malformed "an unknown HTTP version" 'GET /adv HTTP/7.0\r\nHost: x\r\n\r\n' \
	'HTTP/1.1 505 HTTP Version Not Supported'
# No space at all: libmicrohttpd closes without an answer (Tang too closes
# without one on any parse error); what matters is the close and the line.
malformed "a request line with no space" 'GARBAGE\r\n\r\n' ''
malformed "binary junk" '\x01\x02\x03\xff\xfe\r\n\r\n' ''
off=$(stat -c %s "$log")
closed=$(raw 'POST /rec/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n')
check_eq "broken chunked encoding: 400" "HTTP/1.1 400 Bad Request" \
	"$(status_line)"
check_eq "... and the server closes the connection" 0 "$closed"
after_request "broken chunked encoding" "$off" \
	'^127\.0\.0\.1:[0-9]+ POST /rec/x '

# Valid requests.
for path in /adv /adv/ //adv //adv//; do
	check_eq "GET $path: 200 application/jose+json" "200 application/jose+json" \
		"$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{content_type}' "$URL$path")"
done
check_eq "GET //adv//{kid}: 200" 200 "$(http_status GET "$URL//adv//$sig")"
check_eq "POST ///rec///{kid}: 200" 200 \
	"$(http_status POST "$URL///rec///$exc" --data-binary "$req")"

# check_rec KEYFILE KID DESCRIPTION: POST /rec/KID answers with the point
# jose computes from the server's private key and the request key.
check_rec() {
	local file=$1 kid=$2 desc=$3 want got meta
	want=$(jose jwk exc -l "$file" -r "$TEST_DIR/req.jwk")
	meta=$(curl -s -o "$TEST_DIR/rec.out" --max-time 10 \
		-w '%{http_code} %{content_type}' --data-binary "$req" \
		"$URL/rec/$kid")
	check_eq "$desc: 200 application/jwk+json" "200 application/jwk+json" \
		"$meta"
	got=$(cat "$TEST_DIR/rec.out")
	check_eq "... kty, crv and key_ops" 'EC P-521 ["deriveKey"]' \
		"$(jose fmt -j "$got" -g kty -u-) $(jose fmt -j "$got" -g crv -u-) $(jose fmt -j "$got" -g key_ops -o-)"
	check_eq "... x and y are jose's own exchange result" \
		"$(jose fmt -j "$want" -g x -u-) $(jose fmt -j "$want" -g y -u-)" \
		"$(jose fmt -j "$got" -g x -u-) $(jose fmt -j "$got" -g y -u-)"
}
for a in $hashes; do
	check_rec "$exc_file" "$(jose jwk thp -i "$exc_file" -a "$a")" \
		"POST /rec/{exchange kid, $a}"
	check_eq "POST /rec/{signing kid, $a}: 403" 403 \
		"$(http_status POST "$URL/rec/$(jose jwk thp -i "$sig_file" -a "$a")" --data-binary "$req")"
done

# No private key in any advertisement. A rotation first, so that hidden
# keys are asked for too.
new_sig=$("$TETHERD" keys rotate --keys "$keys")
check "keys rotate makes a new signing key" test -f "$keys/$new_sig.jwk"
adv_lists() { adv_signing_thps "$1" | grep -qxF -e "$2"; }
check "the server picks up the rotation" \
	wait_for "new key in /adv" adv_lists "$URL" "$new_sig"
check_rec "$keys/.$exc.jwk" "$exc" "POST /rec/{rotated exchange kid}"

# adv_public FILE: FILE is a JWS whose payload is a non-empty key set with
# no private member "d" in any key, and has no "d" anywhere in it.
adv_public() {
	local payload key n=0
	! grep -qF '"d"' "$1" || { echo "raw response has \"d\""; return 1; }
	payload=$(jose fmt -j "$1" -g payload -y -o-) || return 1
	! printf '%s' "$payload" | grep -qF '"d"' ||
		{ echo "payload has \"d\": $payload"; return 1; }
	while read -r key; do
		n=$((n + 1))
		if jose fmt -j "$key" -O -g d >/dev/null 2>&1; then
			echo "private key in payload: $key"
			return 1
		fi
	done < <(jose fmt -j "$payload" -g keys -A -f-)
	[ "$n" -gt 0 ]
}
for path in /adv /adv/; do
	curl -s -o "$TEST_DIR/adv.out" --max-time 10 "$URL$path"
	check "GET $path carries no private key" adv_public "$TEST_DIR/adv.out"
done
n_keys=0
for f in "$keys"/*.jwk "$keys"/.*.jwk; do
	[ -f "$f" ] || continue
	n_keys=$((n_keys + 1))
	signs=no
	if jose jwk use -i "$f" -u sign 2>/dev/null; then
		signs=yes
	fi
	for a in $hashes; do
		kid=$(jose jwk thp -i "$f" -a "$a")
		status=$(curl -s -o "$TEST_DIR/adv.out" --max-time 10 \
			-w '%{http_code}' "$URL/adv/$kid")
		name="GET /adv/{$(basename "$f"), $a}"
		if [ $signs = yes ]; then
			check_eq "$name: 200" 200 "$status"
			check "... is signed by that key" \
				jose jws ver -i "$TEST_DIR/adv.out" -k "$f"
			check "... and carries no private key" \
				adv_public "$TEST_DIR/adv.out"
		else
			check_eq "$name: 404 (exchange keys do not sign)" \
				404 "$status"
			check "... with no key material in the body" \
				sh -c "! grep -q . '$TEST_DIR/adv.out'"
		fi
	done
done
check_eq "four keys were asked for (two advertised, two rotated)" 4 "$n_keys"

check "tetherd is still running" kill -0 "$srv_PID"
check_log_clean srv "$srv_PID"

done_testing
