#!/bin/sh
# tether's password agent in dracut's systemd initramfs. systemd-cryptsetup
# tries the LUKS tokens first (tether's token plugin among them), and when
# they fail (the network is not up yet, say) it asks for a passphrase
# through systemd's ask-password protocol: a file in ASK_DIR names the
# volume and the datagram socket the answer goes to. For each such request
# of a volume with a clevis binding, this agent recovers the key with
# tether, retrying with back-off while the network comes up, and answers.
# The console agent asks for the passphrase at the same time; the first
# answer opens the volume, and systemd-cryptsetup opens it once.
ASK_DIR=/run/systemd/ask-password
STATE=/run/tether
BACKOFF_MAX=60
REPLY=
for f in /usr/lib/systemd/systemd-reply-password /lib/systemd/systemd-reply-password; do
	[ -x "$f" ] && REPLY=$f && break
done

say() {
	echo "tether: $*"
}

since_boot() {
	read -r up _ </proc/uptime
	echo "${up} s after kernel start"
}

# read_ask FILE: sets ask_id, ask_sock and ask_pid from an ask-password
# request. Read by the shell itself, as is all the agent does while it
# waits: the image may boot on one slow CPU, and a process started every
# half second would take a good part of it from udev, the DHCP client and
# systemd-cryptsetup.
read_ask() {
	ask_id='' ask_sock='' ask_pid=''
	while IFS= read -r line; do
		case $line in
		Id=*) ask_id=${line#Id=} ;;
		Socket=*) ask_sock=${line#Socket=} ;;
		PID=*) ask_pid=${line#PID=} ;;
		esac
	done <"$1"
} 2>/dev/null

# volume_name PID DEV: the volume systemd-cryptsetup (PID) attaches
# ("systemd-cryptsetup attach NAME SOURCE ..."), or DEV.
volume_name() {
	n=$(tr '\000' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n '3p')
	echo "${n:-$2}"
}

# The routes (an IPv4 address brings its subnet's) and the IPv6
# addresses: when they change, a server that was out of reach may answer
# now. Only the fields that name them: not the counters, flags and
# lifetimes, which change by themselves.
network_state() {
	while read -r dev dst gw _ _ _ _ mask _; do
		echo "$dev $dst $gw $mask"
	done </proc/net/route
	while read -r dst plen _ _ gw _ _ _ _ dev; do
		echo "$dev $dst/$plen $gw"
	done </proc/net/ipv6_route
	while read -r addr _ plen scope _ dev; do
		echo "$dev $addr/$plen $scope"
	done </proc/net/if_inet6
} 2>/dev/null

# pending: a request waits for an answer.
pending() {
	for f in "$ASK_DIR"/ask.*; do
		[ -f "$f" ] && return 0
	done
	return 1
}

# default_route: IPv4 or IPv6 has a default route off the loopback (the
# kernel's IPv6 table keeps an unreachable one on lo).
default_route() {
	while read -r dev dst _; do
		[ "$dst" = 00000000 ] && [ "$dev" != lo ] && return 0
	done </proc/net/route
	while read -r dst plen _ _ _ _ _ _ _ dev; do
		[ "$dst" = 00000000000000000000000000000000 ] && [ "$plen" = 00 ] &&
			[ "$dev" != lo ] && return 0
	done </proc/net/ipv6_route
	return 1
} 2>/dev/null

# network_ready: before it, every try fails. dracut's legacy handler marks
# each link it has configured (address, routes, name servers) with
# /tmp/net.IFACE.did-setup. A router advertisement (QEMU's user network
# sends one, as do many routers) makes an IPv6 default route well before
# that, while the servers may be on IPv4: under the legacy handler a
# default route alone counts once it has stood ROUTE_GRACE seconds (an
# IPv6-only link, which DHCP never marks). Other handlers mark nothing:
# a default route is enough.
ROUTE_GRACE=20
route_since=
network_ready() {
	for f in /tmp/net.*.did-setup; do
		[ -e "$f" ] && return 0
	done
	if ! default_route; then
		route_since=
		return 1
	fi
	[ -x /sbin/ifup ] || return 0
	read -r t _ </proc/uptime
	t=${t%.*}
	[ -n "$route_since" ] || route_since=$t
	[ $((t - route_since)) -ge "$ROUTE_GRACE" ]
}

is_open() {
	[ -e "/dev/mapper/$1" ]
}

# recover DEV SLOTS: the slot and key of the first binding whose servers
# answer.
recover() {
	for slot in $2; do
		if key=$(tether luks pass -d "$1" -s "$slot"); then
			printf '%s\n%s' "$slot" "$key"
			key=
			return 0
		fi
	done
	return 1
}

# answer ASK: one pass over one request. Per volume, $STATE/VOL.* hold
# what was decided: slots (the bound keyslots), unbound (no binding: left
# to the passphrase), answered (one key per volume: if it did not open
# it, the passphrase will), next (when to try again, and the delay after
# that).
answer() {
	ask=$1
	read_ask "$ask"
	case $ask_id in cryptsetup:/*) ;; *) return 0 ;; esac
	dev=${ask_id#cryptsetup:}
	sock=$ask_sock
	pid=$ask_pid
	[ -n "$sock" ] && [ -n "$pid" ] || return 0
	# The volume's state name, kept per request: no process is started
	# on a pass that decides nothing.
	if [ -e "$STATE/${ask##*/}.vol" ]; then
		read -r vol <"$STATE/${ask##*/}.vol"
	else
		vol=$(printf '%s' "$dev" | tr -c 'A-Za-z0-9' _)
		echo "$vol" >"$STATE/${ask##*/}.vol"
	fi
	[ -e "$STATE/$vol.unbound" ] || [ -e "$STATE/$vol.answered" ] && return 0
	# The bound keyslots, read once: each try then runs tether once.
	if [ ! -e "$STATE/$vol.slots" ]; then
		tether luks list -d "$dev" 2>/dev/null |
			sed -n 's/^\([0-9][0-9]*\): .*/\1/p' >"$STATE/$vol.slots"
	fi
	slots=''
	while read -r s; do
		slots="$slots $s"
	done <"$STATE/$vol.slots"
	if [ -z "$slots" ]; then
		say "$(volume_name "$pid" "$dev"): no clevis binding on $dev; waiting for the passphrase"
		: >"$STATE/$vol.unbound"
		return 0
	fi
	read -r now _ </proc/uptime
	now=${now%.*}
	next=0 delay=1
	if [ -e "$STATE/$vol.next" ]; then
		read -r next delay <"$STATE/$vol.next"
	fi
	if [ "$net_changed" = y ]; then
		next=0 delay=1
	fi
	[ "$now" -ge "$next" ] || return 0
	# Until the network is up no server can answer: wait for it.
	network_ready || return 0
	name=$(volume_name "$pid" "$dev")
	if out=$(recover "$dev" "$slots"); then
		slot=${out%%
*}
		pass=${out#*
}
		out=
		# The request may have been answered (typed) meanwhile.
		if [ -e "$ask" ] && printf '%s\n' "$pass" | "$REPLY" 1 "$sock"; then
			: >"$STATE/$vol.answered"
			pass=
			wait_open "$name" "$dev" "$ask" &&
				say "$name unlocked through slot $slot, $(since_boot)"
		fi
		pass=
		return 0
	fi
	say "$name: no server gave a key; next try in $delay s (the passphrase works meanwhile)"
	next=$((now + delay))
	delay=$((delay * 2))
	[ "$delay" -le "$BACKOFF_MAX" ] || delay=$BACKOFF_MAX
	echo "$next $delay" >"$STATE/$vol.next"
}

# wait_open NAME DEV ASK: until NAME is open, or systemd-cryptsetup asks
# for DEV again (the key did not open it), at most 60 s.
wait_open() {
	i=0
	while [ $i -lt 600 ]; do
		is_open "$1" && return 0
		for a in "$ASK_DIR"/ask.*; do
			if [ -f "$a" ] && [ "$a" != "$3" ]; then
				read_ask "$a"
				[ "$ask_id" = "cryptsetup:$2" ] && return 1
			fi
		done
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

[ -n "$REPLY" ] || {
	say "systemd-reply-password is missing; the passphrase alone unlocks"
	exit 1
}
mkdir -p "$STATE"
net_was=
while :; do
	if pending; then
		net=$(network_state)
		net_changed=n
		if [ "$net" != "$net_was" ]; then
			net_was=$net
			[ -n "$net" ] && net_changed=y
		fi
		for ask in "$ASK_DIR"/ask.*; do
			[ -f "$ask" ] || continue
			answer "$ask"
		done
	fi
	sleep 0.5
done
