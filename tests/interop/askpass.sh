#!/usr/bin/env bash
# tether luks askpass, the password agent of dracut's systemd initramfs,
# against requests made as systemd-cryptsetup makes them (ask-request.py)
# for LUKS2 images bound to tetherd. The agent runs in a network
# namespace of the test's own (tetherd on its loopback, a tap device
# whose routes the test adds) and a private mount namespace, where
# /run, /tmp, /sbin and /dev/mapper are its own: the host's are not
# touched. It must sleep while nothing waits, try only once the network
# is ready, back off, answer with the key, and leave other requests to
# the passphrase.
export TMPDIR=/var/tmp
. "$(dirname "$0")/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"
. "$(dirname "$0")/luks-lib.sh"
REQUEST=$(dirname "$0")/ask-request.py

for tool in unshare nsenter ip cryptsetup python3; do
	command -v "$tool" >/dev/null ||
		{ not_ok "$tool is installed"; done_testing; exit 1; }
done

NS=tether-askpass-$$
netns_gone() { ip netns del "$NS" 2>/dev/null; cleanup; }
trap netns_gone EXIT
ip netns add "$NS" && ip -n "$NS" link set lo up &&
	ip -n "$NS" tuntap add dev tap0 mode tap &&
	ip -n "$NS" addr add 10.203.0.2/24 dev tap0 &&
	ip -n "$NS" link set tap0 up ||
	{ not_ok "a network namespace with a tap device"; done_testing; exit 1; }

# tetherd inside the namespace, on its loopback.
mkdir -m 0700 "$TEST_DIR/keys"
PORT=$(free_port)
ip netns exec "$NS" "$TETHERD" serve --keys "$TEST_DIR/keys" \
	--listen "http://127.0.0.1:$PORT" >>"$TEST_DIR/srv.log" 2>&1 &
SRV_PID=$!
test_pids+=("$SRV_PID")
check "tetherd serves in the namespace" wait_for "tetherd" \
	ip netns exec "$NS" curl -sf -o "$TEST_DIR/adv.json" "http://127.0.0.1:$PORT/adv"
DEAD_PORT=$(free_port)

bound_image() { # NAME URL: an image bound to URL (the advertisement given)
	new_image "$1" &&
		printf %s "$PASS" | "$TETHER" luks bind -d "$TEST_DIR/$1" -k - -y tang \
			"{\"url\":\"$2\",\"adv\":\"$TEST_DIR/adv.json\"}" 2>/dev/null
}
check "an image bound to the namespace's tetherd" \
	bound_image up.img "http://127.0.0.1:$PORT"
check "an image bound to a port where nothing listens" \
	bound_image dead.img "http://127.0.0.1:$DEAD_PORT"
check "a second bound image" bound_image again.img "http://127.0.0.1:$PORT"
check "an image with no binding" new_image plain.img
# key IMAGE: what its binding of slot 1 recovers (from inside the namespace).
key() {
	ip netns exec "$NS" "$TETHER" luks pass -d "$TEST_DIR/$1" -s 1 2>/dev/null
}
KEY=$(key up.img)

# The agent, with /run, /tmp, /sbin (no dracut legacy handler yet) and
# /dev/mapper of its own. Its binaries are copied out of the build tree,
# which may be under the /tmp it hides (tether runs tether-luks from
# beside itself), and so is the requester, which runs in its namespaces.
mkdir "$TEST_DIR/bin"
cp "$TETHER" "$(dirname "$TETHER")/tether-luks" "$REQUEST" "$TEST_DIR/bin/" ||
	{ not_ok "the agent's binaries are copied"; done_testing; exit 1; }
ip netns exec "$NS" unshare -m --propagation private sh -c '
	for d in /run /tmp /sbin /dev/mapper; do
		mount -t tmpfs tmpfs "$d" || exit 1
	done
	mkdir -p /run/systemd/ask-password && exec "$1" luks askpass' \
	sh "$TEST_DIR/bin/tether" >>"$TEST_DIR/agent.log" 2>&1 &
AGENT=$!
test_pids+=("$AGENT")
in_agent() { nsenter -t "$AGENT" -m -n "$@"; }
check "the agent starts and watches for requests" wait_for "the agent" \
	sh -c "tr '\\000' ' ' </proc/$AGENT/cmdline | grep -q 'luks askpass' &&
		nsenter -t $AGENT -m test -d /run/systemd/ask-password"

# activity: the agent's context switches (each wake-up is one) and the
# processor time it used (a loop that never sleeps shows there).
activity() {
	echo "$(sed -n 's/^\(nonv\|v\)oluntary_ctxt_switches:[[:space:]]*//p' \
		"/proc/$AGENT/status" | tr '\n' ' ')$(awk '{ print $14 + $15 }' \
		"/proc/$AGENT/stat")"
}
# ask NAME IMAGE SECONDS OUT [ID]: a request, in the background.
ask() {
	in_agent python3 "$TEST_DIR/bin/ask-request.py" "$1" "$TEST_DIR/$2" "$3" "$TEST_DIR/$4" \
		${5:+"$5"} &
	ASK_PID=$!
}
answered() { # OUT KEY: the request was answered with KEY, as
	# systemd-reply-password sends it ("+", the key, a NUL)
	[ -n "$2" ] && printf '+%s\0' "$2" | cmp -s - "$TEST_DIR/$1"
}
agent_says() { grep -q -- "$1" "$TEST_DIR/agent.log"; }

# ------------------------------------------------ idle
sleep 1
before=$(activity)
sleep 3
check_eq "idle: no wake-up and no processor time in 3 s while no request waits" "$before" "$(activity)"

# ------------------------------------------------ no network yet
ask root up.img 30 up.out
check "a request for a bound volume is seen" wait_for "the request" \
	in_agent sh -c 'ls /run/systemd/ask-password/ask.*'
sleep 3
check "no default route: the agent waits for the network, no try" \
	sh -c "! grep -q 'no server gave a key\|unlocked' '$TEST_DIR/agent.log'"
check "the request is still unanswered" kill -0 "$ASK_PID"

# ------------------------------------------------ the network comes
ip -n "$NS" route add default dev tap0
wait "$ASK_PID"
check "a default route appears: the agent answers at once with the binding's key" \
	answered up.out "$KEY"
check "... and it is the key that opens the volume" opens_with up.img "$KEY" 1
in_agent touch /dev/mapper/root
check "the volume appears: the agent says it unlocked it through slot 1" \
	wait_for "the message" agent_says 'tether: root unlocked through slot 1, '

# ------------------------------------------------ unbound, other requests
ask plain plain.img 3 plain.out
plain_pid=$ASK_PID
ask other up.img 3 other.out "vpn:secret"
wait "$plain_pid" "$ASK_PID"
check "a volume with no binding is left to the passphrase" \
	sh -c "[ ! -s '$TEST_DIR/plain.out' ] && grep -q 'tether: plain: no clevis binding on .*plain.img; waiting for the passphrase' '$TEST_DIR/agent.log'"
check "a request that is not systemd-cryptsetup's is left alone" \
	sh -c "[ ! -s '$TEST_DIR/other.out' ] && ! grep -q 'other' '$TEST_DIR/agent.log'"

# ------------------------------------------------ server unreachable
ask dead dead.img 12 dead.out
dead_pid=$ASK_PID
check "unreachable: tether says so and backs off (1, 2, 4 s)" wait_for "the delays" \
	sh -c "grep -o 'dead: no server gave a key; next try in [0-9]* s' '$TEST_DIR/agent.log' |
		awk '{ print \$10 }' | tr '\n' ' ' | grep -q '^1 2 4 '"
sleep 1
ip -n "$NS" addr add 10.203.1.2/24 dev tap0
check "a new address: the next delay is 1 s again" wait_for "the reset" \
	sh -c "grep -o 'dead: no server gave a key; next try in [0-9]* s' '$TEST_DIR/agent.log' |
		awk '{ print \$10 }' | tr '\n' ' ' | grep -Eq '^1 2 4 (8 )?1 '"
check "... and the request is still unanswered" kill -0 "$dead_pid"
wait "$dead_pid"
check "... nor answered before it went" test ! -s "$TEST_DIR/dead.out"

# ------------------------------------------------ asked again
# systemd-cryptsetup takes a passphrase another volume's answer left in
# the kernel keyring before the agent's; when that fails it asks again.
ask again again.img 30 again1.out
wait "$ASK_PID"
AGAIN_KEY=$(key again.img)
check "again: the first request is answered" \
	answered again1.out "$AGAIN_KEY"
ask again again.img 30 again2.out
wait "$ASK_PID"
check "again: asked again before the volume opened, the agent answers once more" \
	answered again2.out "$AGAIN_KEY"
ask again again.img 3 again3.out
wait "$ASK_PID"
check "again: a third time it leaves the volume to the passphrase" \
	sh -c "[ ! -s '$TEST_DIR/again3.out' ] && grep -q 'tether: again: the recovered key did not open it; waiting for the passphrase' '$TEST_DIR/agent.log'"

# ------------------------------------------------ a request gone
# The request went while its key was being recovered (it took a cached
# passphrase, or one was typed): the answer finds no socket. The volume
# is still bound, and its next request is answered.
check "a bound image whose first request goes" bound_image gone.img "http://127.0.0.1:$PORT"
ASK_SOCKET_GONE=1 ask gone gone.img 3 gone1.out
wait "$ASK_PID"
ask gone gone.img 30 gone2.out
wait "$ASK_PID"
check "gone: the next request of the volume is answered" answered gone2.out "$(key gone.img)"
check "gone: ... the volume was not taken for one with no binding, no error printed" \
	sh -c "! grep -q 'gone: no clevis binding\|could not be sent' '$TEST_DIR/agent.log'"
in_agent touch /dev/mapper/gone

# ------------------------------------------------ dracut's legacy handler
# With /sbin/ifup (dracut's legacy handler) a default route alone does
# not count until it has stood ASKPASS_ROUTE_GRACE s; a link the handler
# marks (/tmp/net.IFACE.did-setup) does, at once.
in_agent sh -c 'printf "#!/bin/sh\n" >/sbin/ifup && chmod 755 /sbin/ifup'
check "a fourth bound image" bound_image legacy.img "http://127.0.0.1:$PORT"
ask legacy legacy.img 30 legacy.out
sleep 3
check "legacy: a default route alone, no link marked: no try yet" \
	sh -c "[ ! -s '$TEST_DIR/legacy.out' ] && ! grep -q 'legacy' '$TEST_DIR/agent.log'"
in_agent touch /tmp/net.tap0.did-setup
wait "$ASK_PID"
LEGACY_KEY=$(key legacy.img)
check "legacy: the link marked configured: answered at once" \
	answered legacy.out "$LEGACY_KEY"

in_agent touch /dev/mapper/legacy
check "legacy: the agent says it unlocked it" \
	wait_for "the message" agent_says 'tether: legacy unlocked through slot 1, '
sleep 1
before=$(activity)
sleep 3
check_eq "idle again once no request waits: no wake-up and no processor time in 3 s" "$before" "$(activity)"
check "the agent is still running" kill -0 "$AGENT"
check "the agent printed no error of its own" \
	sh -c "! grep -q 'askpass:' '$TEST_DIR/agent.log'"
done_testing
