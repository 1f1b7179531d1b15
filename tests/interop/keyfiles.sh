#!/usr/bin/env bash
# What else a keys directory may hold: a FIFO named *.jwk (at start and
# added while running), symbolic and hard links to files elsewhere, files
# that are no Tang key (oct, RSA, no kty, arrays, numbers, huge files),
# the temp files of a killed `tetherd keys create`, a directory every
# user may write to, and 5,000 key files. Odd files are skipped, named
# with the reason; nothing out of the directory changes owner or mode.
. "$(dirname "$0")/lib.sh"

as_root=false
[ "$(id -u)" -eq 0 ] && as_root=true
user_args=()
$as_root && user_args=(--user "$SERVICE_USER")

thp() { # FILE [ALG]
	jose jwk thp -i "$1" -a "${2:-S256}"
}
adv_verifies() { # URL KEYFILE: GET /adv is signed by the key
	curl -sf --max-time 10 "$1/adv" | jose jws ver -i- -k "$2"
}
adv_key_count() { # URL: how many keys GET /adv carries
	curl -sf --max-time 10 "$1/adv" | jose fmt -j- -g payload -y -o- |
		jose fmt -j- -g keys -A -l -o- 2>/dev/null
}
standin_status() { # KEYDIR: the status tetherd KEYDIR gives GET /adv
	printf 'GET /adv HTTP/1.1\r\n\r\n' |
		timeout -s KILL 20 "$TETHERD" "$1" 2>>"$TEST_DIR/standin.log" |
		head -n1 | cut -d' ' -f2
}
alive() { # PID: running, not a zombie
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st#Z}" = "$st" ]
}
# ends_within PID: waits at most 10 s for PID to end and returns its
# status; one still running then is killed (status 255), so that a
# server that ignores SIGTERM cannot hang the test.
ends_within() {
	local i
	for i in $(seq 1 100); do
		alive "$1" || break
		sleep 0.1
	done
	if alive "$1"; then
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 255
	fi
	wait "$1" 2>/dev/null
}
# check_stops NAME PID: SIGTERM ends it, with status 0, and no sanitizer
# report in its log.
check_stops() {
	local status=0
	kill "$2" 2>/dev/null
	ends_within "$2" || status=$?
	check_eq "$1 exits 0 on SIGTERM" 0 "$status"
	check "$1's log has no sanitizer report" \
		sh -c "! grep -E 'Sanitizer|runtime error' '$TEST_DIR/$1.log'"
}
# refused NAME KEYDIR: tetherd serve on KEYDIR exits non-zero by itself.
refused() {
	local pid status=0
	"$TETHERD" serve --keys "$2" --listen "http://127.0.0.1:$(free_port)" \
		"${user_args[@]}" >>"$TEST_DIR/$1.log" 2>&1 &
	pid=$!
	ends_within "$pid" || status=$?
	[ "$status" -ne 0 ] && [ "$status" -ne 255 ]
}
pair() { # DIR: an advertised pair, sig.jwk and exc.jwk, as tangd-keygen
	# makes them (which gives them to _tang: these stay the runner's)
	mkdir -p "$1" && (umask 077
	 jose jwk gen -i '{"alg":"ES512"}' -o "$1/sig.jwk" &&
	 jose jwk gen -i '{"alg":"ECMR"}' -o "$1/exc.jwk")
}

out=$TEST_DIR/elsewhere
mkdir "$out"
(umask 022; jose jwk gen -i '{"alg":"ES512"}' -o "$out/key.jwk")

# --- 1. FIFOs ---------------------------------------------------------------
fd=$TEST_DIR/fifo
pair "$fd"
mkfifo -m 600 "$fd/fifo.jwk"
if start_tetherd fifo "$fd" "${user_args[@]}"; then
	ok "a FIFO named *.jwk does not hold up the start"
else
	not_ok "a FIFO named *.jwk does not hold up the start"
fi
check "... the keys are served" adv_verifies "$URL" "$fd/sig.jwk"
check "... and the log names it: not a regular file" \
	grep -q 'skipping key file fifo.jwk: not a regular file' "$TEST_DIR/fifo.log"
check_stops fifo "$fifo_PID"
check_eq "the stand-in (tetherd KEYSDIR) answers beside a FIFO too" 200 \
	"$(standin_status "$fd")"

fl=$TEST_DIR/fifo-later
pair "$fl"
start_tetherd later "$fl" "${user_args[@]}" ||
	{ not_ok "tetherd serve starts"; done_testing; exit 1; }
mkfifo -m 600 "$fl/later.jwk"
# The server's own (as root, it runs as the service user), so that it may
# open it; the change of owner is what inotify reports to the main loop.
chown --reference="$fl" "$fl/later.jwk"
sleep 0.5
check_eq "a FIFO added while running: GET /adv answers" 200 \
	"$(http_status GET "$URL/adv")"
check_stops later "$later_PID"

# --- 2. links to files out of the directory -------------------------------
ld=$TEST_DIR/links
pair "$ld"
ln -s "$out/key.jwk" "$ld/link.jwk"
ln -s "$out/none" "$ld/dangling.jwk"
start_tetherd links "$ld" "${user_args[@]}" ||
	{ not_ok "tetherd serve starts"; done_testing; exit 1; }
check "a key file that is a symbolic link is not followed: its key is not advertised" \
	sh -c "! curl -sf '$URL/adv' | jose jws ver -i- -k '$out/key.jwk'"
check "... the others are" adv_verifies "$URL" "$ld/sig.jwk"
check "... and the log names it" \
	grep -q 'skipping key file link.jwk: a symbolic link' "$TEST_DIR/links.log"
check_eq "... its target keeps its owner and mode" "$(id -un) 644" \
	"$(stat -c '%U %a' "$out/key.jwk")"
check_stops links "$links_PID"
lo=$TEST_DIR/links-only
mkdir "$lo"
ln -s "$out/key.jwk" "$lo/link.jwk"
check_eq "a directory whose only advertised key is a link: the stand-in serves no key" \
	500 "$(standin_status "$lo")"
check_eq "... and makes no new pair over it" "link.jwk" "$(ls -A "$lo")"

if $as_root; then
	hd=$TEST_DIR/hard
	pair "$hd"
	(umask 077; jose jwk gen -i '{"alg":"ECMR"}' -o "$out/root.jwk")
	ln "$out/root.jwk" "$hd/linked.jwk"
	if refused hard "$hd"; then
		ok "root's key file with another name (a hard link) refuses the start"
	else
		not_ok "root's key file with another name (a hard link) refuses the start"
	fi
	check_eq "... the file keeps its owner (root), under both names" "root root" \
		"$(stat -c %U "$out/root.jwk") $(stat -c %U "$hd/linked.jwk")"
	check "... and the log names it and says why" \
		grep -q 'hard/linked.jwk: root.s, with 2 hard links' "$TEST_DIR/hard.log"
	rm "$hd/linked.jwk"
	(umask 022; jose jwk gen -i '{"alg":"ES512"}' -o "$out/theirs.jwk")
	chown "$SERVICE_USER" "$out/theirs.jwk"
	ln "$out/theirs.jwk" "$hd/shared.jwk"
	start_tetherd shared "$hd" "${user_args[@]}" ||
		{ not_ok "tetherd serve starts"; done_testing; exit 1; }
	check_eq "the service user's key file others can read, with another name: its mode stays" \
		644 "$(stat -c %a "$out/theirs.jwk")"
	check "... with a warning naming it" \
		grep -q 'shared.jwk is readable by others (mode 644, and other names' \
		"$TEST_DIR/shared.log"
	check_stops shared "$shared_PID"
	# The clients file is taken over the same way, and so refused the same.
	"$TETHERD" clients add web1 --clients "$out/clients" >/dev/null
	ln "$out/clients" "$TEST_DIR/clients-link"
	"$TETHERD" serve --keys "$hd" --listen "http://127.0.0.1:$(free_port)" \
		--clients "$TEST_DIR/clients-link" "${user_args[@]}" \
		>>"$TEST_DIR/clients-link.log" 2>&1 &
	pid=$!
	status=0
	ends_within "$pid" || status=$?
	if [ "$status" -ne 0 ] && [ "$status" -ne 255 ]; then
		ok "root's clients file with another name (a hard link) refuses the start"
	else
		not_ok "root's clients file with another name (a hard link) refuses the start" \
			"$(cat "$TEST_DIR/clients-link.log")"
	fi
	check_eq "... the file keeps its owner (root)" root "$(stat -c %U "$out/clients")"
	check "... and the log says why" \
		grep -q 'clients-link: root.s, with 2 hard links' "$TEST_DIR/clients-link.log"
else
	skip "root's key files with other names are not adopted" "not root"
fi

# --- 3. files that are no Tang key ----------------------------------------
od=$TEST_DIR/odd
pair "$od"
(umask 077
 printf '{}' >"$od/empty.jwk"
 printf '{"alg":"ES512","key_ops":["sign","verify"]}' >"$od/nokty.jwk"
 printf '{"kty":"oct","k":"AAAA"}' >"$od/oct.jwk"
 jose jwk gen -i '{"alg":"RS256"}' -o "$od/rsa.jwk"
 printf '[1]' >"$od/array.jwk"
 printf '5' >"$od/number.jwk"
 { printf '{"pad":"'; head -c 70000 /dev/zero | tr '\0' a; printf '"}'; } >"$od/huge.jwk"
 jose jwk gen -i '{"alg":"ES512"}' | jose jwk pub -i- -o "$od/public.jwk"
 jose jwk gen -i '{"alg":"ES512"}' | jq -c '.x = .y' >"$od/offcurve.jwk"
 jose jwk gen -i '{"alg":"ECDH-ES"}' -o "$od/ecdh.jwk"
 jose jwk gen -i '{"alg":"ECMR"}' |
	jq -c '.key_ops = ["sign", "verify", "deriveKey"]' >"$od/ecmrsign.jwk")
if start_tetherd odd "$od" "${user_args[@]}"; then
	ok "files that are no Tang key do not stop the start"
else
	not_ok "files that are no Tang key do not stop the start"
fi
check "... GET /adv is signed by the pair's signing key" adv_verifies "$URL" "$od/sig.jwk"
check_eq "... and carries only the pair" 2 "$(adv_key_count "$URL")"
check_eq "... its exchange key recovers" 200 "$(rec_status "$URL" "$(thp "$od/exc.jwk")")"
for why in 'empty.jwk: no "kty"' 'nokty.jwk: no "kty"' 'oct.jwk: kty "oct" is not EC' \
	'rsa.jwk: kty "RSA" is not EC' 'array.jwk: not a JSON object' \
	'number.jwk: not a JSON object' 'huge.jwk: larger than 64 KiB' \
	'public.jwk: no private key' 'offcurve.jwk: x and y are not a point' \
	'ecdh.jwk: alg is neither ECMR nor ES512' \
	'ecmrsign.jwk: alg ECMR, yet its key_ops sign'; do
	check "the log says: skipping key file $why" \
		grep -qF "skipping key file $why" "$TEST_DIR/odd.log"
done
check_eq "the stand-in serves that directory too" 200 "$(standin_status "$od")"
check "tetherd keys list lists the signing key" \
	sh -c "'$TETHERD' keys list --keys '$od' 2>/dev/null | grep -qxF -e '$(thp "$od/sig.jwk")'"
(umask 077; printf '{"kty":"oct","k":"AAAA"}' >"$od/later.jwk")
check_eq "one added while running does not stop serving" 200 \
	"$(http_status GET "$URL/adv")"
check_stops odd "$odd_PID"

# --- 4. temp files of killed writes --------------------------------------
td=$TEST_DIR/temps
pair "$td"
secret=$(jose jwk gen -i '{"alg":"ES512"}')
(umask 077
 printf '%s' "$secret" >"$td/.tmp-0123456789ab"
 for n in .tmp-0123456789AB .tmp-0123456789a .tmp-0123456789abc .tmp-x \
	tmp-0123456789ab .tmp-012345678-ab; do
	printf '%s' "$secret" >"$td/$n"
 done)
ln -s "$out/key.jwk" "$td/.tmp-bbbbbbbbbbbb"
mkdir "$td/.tmp-cccccccccccc"
if $as_root; then
	(umask 077; printf '%s' "$secret" >"$td/.tmp-aaaaaaaaaaaa")
	chown nobody "$td/.tmp-aaaaaaaaaaaa"
fi
# A write under way holds its temp file locked until it renames it.
(umask 077; exec 9>"$td/.tmp-dddddddddddd"; flock 9; touch "$TEST_DIR/locked"; exec sleep 60) &
holder=$!
wait_for "the lock is held" test -e "$TEST_DIR/locked"
start_tetherd temps "$td" "${user_args[@]}" ||
	{ not_ok "tetherd serve starts"; done_testing; exit 1; }
check "the temp file a killed keys create left is removed at start" \
	test ! -e "$td/.tmp-0123456789ab"
check "... saying so, naming it" \
	grep -q 'temps/.tmp-0123456789ab: removed' "$TEST_DIR/temps.log"
for n in .tmp-0123456789AB .tmp-0123456789a .tmp-0123456789abc .tmp-x \
	tmp-0123456789ab .tmp-012345678-ab; do
	check "$n (not the exact name keys create makes) is left" test -f "$td/$n"
done
check "a link with that name is left, and so is its target" \
	sh -c "test -L '$td/.tmp-bbbbbbbbbbbb' && test -s '$out/key.jwk'"
check "a directory with that name is left" test -d "$td/.tmp-cccccccccccc"
check "one a write still holds is left" test -f "$td/.tmp-dddddddddddd"
if $as_root; then
	check "another user's is left" test -f "$td/.tmp-aaaaaaaaaaaa"
	check "... saying whose it is" \
		grep -q '.tmp-aaaaaaaaaaaa: owned by uid' "$TEST_DIR/temps.log"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
temps() { ls -A "$td" | grep -E '^\.tmp-' | sort; }
before=$(temps)
made=$("$TETHERD" keys create --keys "$td")
check "keys create still works beside them" test -f "$td/$made.jwk"
check_eq "... and leaves no temp file" "$before" "$(temps)"
check_stops temps "$temps_PID"

# A real keys create, held mid-write (strace delays its first fsync, after
# the key is written to its temp file), then killed.
if command -v strace >/dev/null; then
	kd=$TEST_DIR/killed
	pair "$kd"
	is_temp() { grep -xE '\.tmp-[0-9a-f]{12}'; }
	strace -f -o /dev/null -e trace=fsync -e inject=fsync:delay_enter=20000000 \
		"$TETHERD" keys create --keys "$kd" >/dev/null 2>&1 &
	tracer=$!
	wait_for "its temp file is written" \
		sh -c "f=\$(ls -A '$kd' | grep -xE '\.tmp-[0-9a-f]{12}') && test -s '$kd'/\$f"
	tmp=$(ls -A "$kd" | is_temp)
	check_eq "while keys create writes, the stand-in starts and answers" 200 \
		"$(standin_status "$kd")"
	check "... leaving its temp file ($tmp), which that write holds" \
		test -f "$kd/$tmp"
	# Both at once: strace alone would wait out its delay first.
	kill -KILL "$tracer" $(pgrep -P "$tracer") 2>/dev/null
	wait "$tracer" 2>/dev/null
	check "killed, keys create leaves its temp file, a private key" \
		jq -e .d "$kd/$tmp"
	check_eq "the next start answers" 200 "$(standin_status "$kd")"
	check "... and removes it" test ! -e "$kd/$tmp"
	check "... naming it" grep -qF "killed/$tmp: removed" "$TEST_DIR/standin.log"
else
	skip "a killed keys create's temp file is removed" "strace is not installed"
fi

# --- 5. a directory every user may write to --------------------------------
wd=$TEST_DIR/open
pair "$wd"
chmod 0777 "$wd"
if refused open "$wd"; then
	ok "a keys directory every user may write to (0777) refuses the start"
else
	not_ok "a keys directory every user may write to (0777) refuses the start"
fi
check "... saying why and what to do" \
	grep -q 'every user may write to it (mode 0777).*chmod o-w' "$TEST_DIR/open.log"
if $as_root; then
	check_eq "... and gives nothing to the service user" "root root root" \
		"$(stat -c %U "$wd" "$wd/sig.jwk" "$wd/exc.jwk" | paste -sd' ')"
fi
check "tetherd keys create writes no key into it" \
	sh -c "! '$TETHERD' keys create --keys '$wd' 2>'$TEST_DIR/create.err' &&
	       grep -q 'every user may write to it' '$TEST_DIR/create.err' &&
	       test \$(ls -A '$wd' | wc -l) -eq 2"
chmod 1777 "$wd"
if refused open-sticky "$wd"; then
	ok "... so does 1777"
else
	not_ok "... so does 1777"
fi
check_eq "the stand-in serves no key from it" 500 "$(standin_status "$wd")"
chmod 0755 "$wd"
start_tetherd opened "$wd" "${user_args[@]}" ||
	{ not_ok "tetherd serve starts"; done_testing; exit 1; }
chmod 0757 "$wd"
check_eq "made writable by all while running: its keys are no longer served" 500 \
	"$(http_status GET "$URL/adv")"
chmod 0755 "$wd"
check "... until it is not" adv_verifies "$URL" "$wd/sig.jwk"
check_stops opened "$opened_PID"

# --- 6. 5,000 key files ------------------------------------------------------
big=$TEST_DIR/big
mkdir -m 0700 "$big"
pair "$big"
# 4,998 rotated keys, as years of tetherd keys rotate leave them.
gen_keys() { # ALG COUNT: a JWK per line
	jose jwk gen $(for _ in $(seq 1 "$2"); do printf -- '-i {"alg":"%s"} ' "$1"; done) \
		-o- | jq -c '.keys[]'
}
(umask 077
 gen_keys ES512 2499 | awk -v d="$big" '{ f = d "/.s" NR ".jwk"; print > f; close(f) }'
 gen_keys ECMR 2499 | awk -v d="$big" '{ f = d "/.e" NR ".jwk"; print > f; close(f) }')
check_eq "5,000 key files" 5000 "$(ls -A "$big" | grep -c '\.jwk$')"
start_ms=$(( $(date +%s%N) / 1000000 ))
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
"$TETHERD" serve --keys "$big" --listen "$URL" --rec-rate 0 \
	--max-connections-per-address 0 "${user_args[@]}" >>"$TEST_DIR/big.log" 2>&1 &
big_PID=$!
test_pids+=("$big_PID")
# At most 120 s: a sanitizer build on a busy machine is slow.
for _ in $(seq 1 1200); do
	curl -sf -o /dev/null --max-time 5 "$URL/adv" && break
	alive "$big_PID" || break
	sleep 0.1
done
if alive "$big_PID"; then
	echo "# start-up with 5,000 key files: $(( $(date +%s%N) / 1000000 - start_ms )) ms to the first GET /adv"
fi
check "a directory of 5,000 key files starts, and GET /adv is signed" \
	adv_verifies "$URL" "$big/sig.jwk"
check "... GET /adv/{kid} of a rotated key is signed by it" \
	sh -c "curl -sf --max-time 60 '$URL/adv/$(thp "$big/.s1234.jwk")' | jose jws ver -i- -k '$big/.s1234.jwk'"
check_eq "... a rotated exchange key recovers" 200 \
	"$(rec_status "$URL" "$(thp "$big/.e2499.jwk")")"
check "... and the log counts them all" \
	grep -q 'serving 2 advertised keys (5000 in all)' "$TEST_DIR/big.log"
check_stops big "$big_PID"

done_testing
