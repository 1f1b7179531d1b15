#!/bin/sh
# dracut cleanup hook: before switch-root, takes down the links dracut
# configured for tether, so that the real system's network manager starts
# clean; tether.keep-network on the command line (or tether_keep_network
# in dracut.conf.d) keeps them, and so does a root on the network.
command -v getargbool >/dev/null || . /lib/dracut-lib.sh

getargbool 0 tether.keep-network && return 0
case "$(getarg netroot=)" in ?*) return 0 ;; esac
case "$(getarg root=)" in
nfs* | iscsi* | nbd* | cifs* | dhcp* | *:/*) return 0 ;;
esac
for f in /tmp/net.*.did-setup; do
	[ -e "$f" ] || continue
	dev=${f#/tmp/net.}
	dev=${dev%.did-setup}
	case $dev in '' | */* | .*) continue ;; esac
	[ -e "/sys/class/net/$dev" ] || continue
	ip addr flush dev "$dev" 2>/dev/null
	ip route flush dev "$dev" 2>/dev/null
	ip link set dev "$dev" down 2>/dev/null
	rm -f "$f"
	echo "tether: took $dev down" >&2
done
rm -f /etc/resolv.conf
