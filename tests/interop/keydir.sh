#!/usr/bin/env bash
# The keys directory means what it means to Tang, and tetherd stands in
# for tangd: `tetherd KEYSDIR` per connection answers as `tetherd serve`;
# a change made by tangd-keygen, tangd-rotate-keys or tetherd keys is
# served as soon as the command returns; a deleted key recovers nothing;
# an emptied or replaced directory gets new keys; many keys start at once;
# key files others can read are served, named and (as root) made private;
# a refused start writes nothing; keys and clients take --config.
. "$(dirname "$0")/lib.sh"

KEYGEN=/usr/libexec/tangd-keygen
ROTATE=/usr/libexec/tangd-rotate-keys
as_root=false
[ "$(id -u)" -eq 0 ] && as_root=true
# Debian's tangd-keygen gives its keys to _tang: the server runs as that
# user when started as root, as on a host that moved from Tang.
user_args=()
if $as_root && id _tang >/dev/null 2>&1; then
	user_args=(--user _tang)
fi

# A recovery request: the public half of a fresh ECMR key.
jose jwk gen -i '{"alg":"ECMR"}' | jose jwk pub -i- -o "$TEST_DIR/req.jwk"
thp() { # FILE [ALG]
	jose jwk thp -i "$1" -a "${2:-S256}"
}
# The file in KEYDIR, hidden or not, whose S256 thumbprint is KID.
key_file() { # KEYDIR KID
	local f
	for f in "$1"/*.jwk "$1"/.*.jwk; do
		[ -f "$f" ] && [ "$(thp "$f")" = "$2" ] && echo "$f" && return 0
	done
	return 1
}
sorted() { tr ' ' '\n' | sed '/^$/d' | sort; }

head -c 32 /dev/urandom >"$TEST_DIR/plain"

# --- 1. tetherd KEYSDIR stands in for tangd ------------------------------
sk=$TEST_DIR/standin
mkdir "$sk"
$KEYGEN "$sk" sig exc
sig=$(thp "$sk/sig.jwk")
exc=$(thp "$sk/exc.jwk")
start_standin standin "$sk" ||
	{ not_ok "tetherd KEYSDIR answers under socat"; done_testing; exit 1; }
SURL=$URL
start_tetherd serve "$sk" "${user_args[@]}" ||
	{ not_ok "tetherd serve starts"; done_testing; exit 1; }
VURL=$URL
check "GET /adv from the stand-in verifies with the signing key" \
	sh -c "curl -sf '$SURL/adv' | jose jws ver -i- -k '$sk/sig.jwk'"
check "GET /adv/{S512 kid} from the stand-in verifies" \
	sh -c "curl -sf '$SURL/adv/$(thp "$sk/sig.jwk" S512)' | jose jws ver -i- -k '$sk/sig.jwk'"
# Every route, method and body answers as tetherd serve answers it.
jose jwk gen -i '{"alg":"ES512"}' | jose jwk pub -i- -o "$TEST_DIR/sigreq.jwk"
for req in "GET /adv" "GET /adv/" "GET //adv//" "GET /adv/$sig" \
	"GET /adv/$(thp "$sk/sig.jwk" S1)" "GET /adv/$exc" "GET /adv/nope" \
	"GET /adv/a.b" "POST /adv" "PUT /adv/$sig" "GET /" "GET /nope" \
	"GET /rec/$exc" "POST /rec/$exc req" "POST /rec/$exc {}" \
	"POST /rec/$exc notjson" "POST /rec/$sig req" "POST /rec/nope req" \
	"POST /rec/$exc sigreq" "GET /adv?x=1"; do
	set -- $req
	body=()
	case ${3:-} in
	req | sigreq) body=(--data-binary "@$TEST_DIR/$3.jwk") ;;
	?*) body=(--data-binary "$3") ;;
	esac
	want=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' \
		-X "$1" "${body[@]}" "$VURL$2")
	got=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' \
		-X "$1" "${body[@]}" "$SURL$2")
	check_eq "stand-in answers $req as serve does ($want)" "$want" "$got"
done
check "clevis encrypt tang against the stand-in" \
	sh -c "clevis encrypt tang '{\"url\":\"$SURL\",\"thp\":\"$sig\"}' <'$TEST_DIR/plain' >'$TEST_DIR/jwe-s'"
check "... decrypts against the stand-in" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe-s' | cmp - '$TEST_DIR/plain'"
# Keep-alive and pipelining: three requests in one write, one connection.
printf 'GET /adv HTTP/1.1\r\nHost: a\r\n\r\nPOST /rec/%s HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n%sGET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' \
	"$exc" "$(wc -c <"$TEST_DIR/req.jwk")" "$(cat "$TEST_DIR/req.jwk")" \
	>"$TEST_DIR/pipelined"
socat -t 10 - "TCP:127.0.0.1:${SURL##*:}" <"$TEST_DIR/pipelined" \
	>"$TEST_DIR/pipelined.out"
check_eq "pipelined requests on one connection get their answers in order" \
	"200 200 404" "$(grep -ao 'HTTP/1.1 [0-9]*' "$TEST_DIR/pipelined.out" | cut -d' ' -f2 | paste -sd' ')"
# stdin may be a pipe; EOF ends the process with status 0.
printf 'GET /adv HTTP/1.1\r\n\r\nGET /adv/%s HTTP/1.0\r\n\r\n' "$sig" |
	timeout 20 "$TETHERD" "$sk" >"$TEST_DIR/pipe.out" 2>/dev/null
check_eq "over a pipe, until EOF, exiting 0" "0 2" \
	"$? $(grep -ao 'HTTP/1.1 200 OK' "$TEST_DIR/pipe.out" | wc -l)"
raw_status() { # REQUEST-BYTES: the status the stand-in gives them
	printf "$1" | timeout 20 "$TETHERD" "$sk" 2>/dev/null |
		head -n1 | cut -d' ' -f2
}
check_eq "chunked bodies are not read: 501" 501 \
	"$(raw_status "POST /rec/$exc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")"
check_eq "a body over 16 KiB: 413" 413 \
	"$(raw_status "POST /rec/$exc HTTP/1.1\r\nContent-Length: 16385\r\n\r\n")"
check_eq "a malformed Content-Length: 400" 400 \
	"$(raw_status "POST /rec/$exc HTTP/1.1\r\nContent-Length: 1x\r\n\r\n")"
check_eq "a header block over 4 KiB: 431" 431 \
	"$(raw_status "GET /adv HTTP/1.1\r\nX: $(head -c 4200 /dev/zero | tr '\0' a)\r\n\r\n")"
check_eq "not HTTP: 400" 400 "$(raw_status "GET /adv\r\n\r\n")"
check_eq "a request cut short by EOF: 400" 400 \
	"$(raw_status "POST /rec/$exc HTTP/1.1\r\nContent-Length: 50\r\n\r\n{}")"
check "tetherd with one argument that is no directory refuses" \
	sh -c "! '$TETHERD' '$TEST_DIR/none' </dev/null"
ek=$TEST_DIR/standin-empty
mkdir "$ek"
check "the stand-in makes a pair in an empty directory, as tangd" \
	sh -c "printf 'GET /adv HTTP/1.1\r\n\r\n' | '$TETHERD' '$ek' | grep -q '^HTTP/1.1 200' &&
	       test \$(ls '$ek'/*.jwk | wc -l) -eq 2"
stop_pid "$serve_PID"

# --- 2. a change is served as soon as the command returns ----------------
keys=$TEST_DIR/keys
mkdir "$keys"
$KEYGEN "$keys" first-sig first-exc
start_tetherd srv "$keys" "${user_args[@]}" ||
	{ not_ok "tetherd serve starts"; done_testing; exit 1; }
for i in 1 2 3; do
	$KEYGEN "$keys" "sig$i" "exc$i"
	check "right after tangd-keygen ($i), GET /adv has its signing key" \
		sh -c "curl -sf '$URL/adv' | jose jws ver -i- -k '$keys/sig$i.jwk'"
done
$ROTATE -d "$keys" >/dev/null 2>&1
check_eq "right after tangd-rotate-keys, GET /adv has only the new key" \
	"$(key_thps "$keys" verify | sorted)" "$(adv_signing_thps "$URL" | sorted)"
new=$("$TETHERD" keys rotate --keys "$keys")
check_eq "right after tetherd keys rotate, GET /adv has only its key" \
	"$new" "$(adv_signing_thps "$URL")"
check_eq "... and GET /adv/{kid} of a key hidden just now answers" 200 \
	"$(http_status GET "$URL/adv/$(thp "$keys/.sig1.jwk")")"

# --- 3. deleting a key file revokes it ------------------------------------
check "a binding to the current keys" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"$new\"}' <'$TEST_DIR/plain' >'$TEST_DIR/jwe'"
kid=$(jwe_kid "$TEST_DIR/jwe")
check_eq "its key recovers" 200 "$(rec_status "$URL" "$kid")"
old_exc=$(thp "$keys/.exc1.jwk")
check_eq "a hidden key recovers" 200 "$(rec_status "$URL" "$old_exc")"
rm -f "$keys/.exc1.jwk"
check_eq "right after its file is deleted, a hidden key gets 404" 404 \
	"$(rec_status "$URL" "$old_exc")"
rm -f "$(key_file "$keys" "$kid")"
check_eq "right after its file is deleted, the bound key gets 404" 404 \
	"$(rec_status "$URL" "$kid")"
check "... and the binding no longer decrypts" \
	sh -c "! clevis decrypt <'$TEST_DIR/jwe' >/dev/null 2>&1"
check_eq "the stand-in also gives 404 for a deleted key" 404 \
	"$(rm -f "$sk/exc.jwk"; rec_status "$SURL" "$exc")"
rm -f "$keys"/*.jwk "$keys"/.*.jwk
check "an emptied directory gets a new pair at the next request" \
	sh -c "test \"\$(adv_signing_thps '$URL' 2>/dev/null || curl -sf '$URL/adv' >/dev/null)\" != x &&
	       test \$(ls '$keys'/*.jwk | wc -l) -eq 2"
check_eq "... which is the one advertised" "$(key_thps "$keys" verify)" \
	"$(adv_signing_thps "$URL")"
repl=$TEST_DIR/keys.new
mkdir "$repl"
$KEYGEN "$repl" rsig rexc
mv "$keys" "$TEST_DIR/keys.old"
mv "$repl" "$keys"
check_eq "a directory replaced by another is served at once" \
	"$(thp "$keys/rsig.jwk")" "$(adv_signing_thps "$URL")"
mv "$keys" "$TEST_DIR/keys.gone"
check_eq "a directory that is gone serves no advertisement" 500 \
	"$(http_status GET "$URL/adv")"
mv "$TEST_DIR/keys.gone" "$keys"
check_eq "... until it is back" "$(thp "$keys/rsig.jwk")" \
	"$(adv_signing_thps "$URL")"
mode=$(stat -c %a "$keys")
chmod 000 "$keys"
for i in 1 2 3; do
	st=$(http_status GET "$URL/adv")
done
chmod "$mode" "$keys"
check_eq "a directory that cannot be read serves no advertisement" 500 "$st"
check_eq "... and says so once, not at every request" 1 \
	"$(grep -c 'cannot read keys' "$TEST_DIR/srv.log")"
check_eq "... until it can be read again" "$(thp "$keys/rsig.jwk")" \
	"$(adv_signing_thps "$URL")"
check "the log names what the reloads found" \
	grep -q 'reloaded keys (directory changed)' "$TEST_DIR/srv.log"
check_log_clean srv "$srv_PID"

# --- 4. many keys: start-up and reload do not sign for each --------------
many=$TEST_DIR/many
mkdir -m 0700 "$many"
(umask 077
 for i in $(seq 1 100); do
	jose jwk gen -i '{"alg":"ES512"}' -o "$many/s$i.jwk"
	jose jwk gen -i '{"alg":"ECMR"}' -o "$many/e$i.jwk"
 done)
# Signing each key's GET /adv/{kid} with all 100 signers at start took
# 25 s (10,000 signatures); lib.sh waits 10 s for a start.
if start_tetherd many "$many" "${user_args[@]}"; then
	ok "a directory of 100 advertised pairs starts and answers"
else
	not_ok "a directory of 100 advertised pairs starts and answers"
fi
check_eq "... its advertisement has all 200 keys" 200 \
	"$(curl -sf "$URL/adv" | jose fmt -j- -g payload -y -o- |
	   jose fmt -j- -g keys -A -l -o- 2>/dev/null)"
check "... and GET /adv/{kid} is signed by the key asked for" \
	sh -c "curl -sf '$URL/adv/$(thp "$many/s7.jwk" S1)' | jose jws ver -i- -k '$many/s7.jwk'"
(umask 077; jose jwk gen -i '{"alg":"ES512"}' -o "$many/s101.jwk")
chown --reference="$many" "$many/s101.jwk"
check "... and a key added is served by the next request" \
	sh -c "curl -sf '$URL/adv' | jose jws ver -i- -k '$many/s101.jwk'"
check_log_clean many "$many_PID"

# --- 5. key files readable by others --------------------------------------
wr=$TEST_DIR/world
mkdir "$wr"
$KEYGEN "$wr" wsig wexc
(umask 022; jose jwk gen -i '{"alg":"ECMR"}' -o "$wr/open.jwk")
check_eq "jose jwk gen under umask 022 makes a key others can read" 644 \
	"$(stat -c %a "$wr/open.jwk")"
start_tetherd wr "$wr" "${user_args[@]}" ||
	{ not_ok "tetherd serve starts with a key others can read"; done_testing; exit 1; }
check_eq "a key file others can read is served, not skipped" 200 \
	"$(rec_status "$URL" "$(thp "$wr/open.jwk")")"
check "the start-up log names it and says to rotate" \
	grep -q 'open.jwk.*readable by others.*rotate' "$TEST_DIR/wr.log"
if $as_root; then
	check_eq "started as root, tetherd takes the other bits off (644 to 640)" \
		640 "$(stat -c %a "$wr/open.jwk")"
	check "... and says so" grep -q 'open.jwk was readable by others (mode 644): made it 640' \
		"$TEST_DIR/wr.log"
	check_eq "group bits stay: tangd-keygen's 0440 is left alone" 440 \
		"$(stat -c %a "$wr/wsig.jwk")"
fi
(umask 022; jose jwk gen -i '{"alg":"ES512"}' -o "$wr/later.jwk")
check "a signing key others can read, added while running, is advertised" \
	sh -c "curl -sf '$URL/adv' | jose jws ver -i- -k '$wr/later.jwk'"
check "... and the reload warns, naming it" \
	grep -q 'later.jwk is readable by others.*rotate' "$TEST_DIR/wr.log"
check "tetherd keys list marks it" \
	sh -c "'$TETHERD' keys list --keys '$wr' 2>/dev/null | grep -qxF -e '$(thp "$wr/later.jwk") (file readable by others: rotate)'"
check "... and not the private one" \
	sh -c "'$TETHERD' keys list --keys '$wr' 2>/dev/null | grep -qxF -e '$(thp "$wr/wsig.jwk")'"
check_log_clean wr "$wr_PID"
if $as_root; then
	(umask 022; jose jwk gen -i '{"alg":"ES512"}' -o "$sk/.open.jwk")
	printf 'GET /adv/%s HTTP/1.1\r\n\r\n' "$(thp "$sk/.open.jwk")" |
		"$TETHERD" "$sk" >"$TEST_DIR/open.out" 2>"$TEST_DIR/open.err"
	check_eq "the stand-in, as root, serves and tightens it too" \
		"HTTP/1.1 200 OK 640" \
		"$(head -n1 "$TEST_DIR/open.out" | tr -d '\r') $(stat -c %a "$sk/.open.jwk")"
fi

# --- 6. a refused start writes nothing ------------------------------------
if $as_root; then
	theirs=$TEST_DIR/theirs
	mkdir "$theirs"
	chown nobody "$theirs"
	if "$TETHERD" serve --keys "$theirs" --listen "http://127.0.0.1:$(free_port)" \
		--user "$SERVICE_USER" 2>"$TEST_DIR/theirs.err"; then
		not_ok "a keys directory another user owns is refused"
	else
		check "a keys directory another user owns is refused" \
			grep -q 'owned by uid' "$TEST_DIR/theirs.err"
	fi
	check_eq "... and no key was written to it" "" "$(ls -A "$theirs")"
else
	ok "# SKIP a refused start as root (not root)"
fi

# --- 7. keys and clients take --config ------------------------------------
cat >"$TEST_DIR/tetherd.conf" <<CONF
keys = $keys
clients = $TEST_DIR/clients
CONF
check_eq "keys list --config reads the keys directory from the file" \
	"$("$TETHERD" keys list --keys "$keys")" \
	"$("$TETHERD" keys list --config "$TEST_DIR/tetherd.conf")"
made=$("$TETHERD" keys create --config "$TEST_DIR/tetherd.conf")
check "keys create --config writes to it" test -f "$keys/$made.jwk"
made=$("$TETHERD" keys rotate --config "$TEST_DIR/tetherd.conf")
check "keys rotate --config too" test -f "$keys/$made.jwk"
check_eq "--keys wins over --config" "$("$TETHERD" keys list --keys "$wr" 2>/dev/null)" \
	"$("$TETHERD" keys list --config "$TEST_DIR/tetherd.conf" --keys "$wr" 2>/dev/null)"
check "clients add --config writes the file it names" \
	sh -c "'$TETHERD' clients add host1 --config '$TEST_DIR/tetherd.conf' >/dev/null &&
	       grep -q host1 '$TEST_DIR/clients'"
check_eq "clients list --config reads it" "host1 enabled" \
	"$("$TETHERD" clients list --config "$TEST_DIR/tetherd.conf")"
check "a config that names no keys directory is refused, saying so" \
	sh -c "echo 'threads = 2' >'$TEST_DIR/bare.conf' &&
	       ! '$TETHERD' keys list --config '$TEST_DIR/bare.conf' 2>'$TEST_DIR/bare.err' &&
	       grep -q 'names no keys directory' '$TEST_DIR/bare.err'"

stop_pid "$standin_PID"
done_testing
