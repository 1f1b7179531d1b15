/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_ASKPASS_H
#define TETHER_ASKPASS_H

/* The wait between tries of one volume: 1 s, doubling up to this, and
   1 s again whenever an address or route changes. */
#define ASKPASS_BACKOFF_MAX 60
/* Under dracut's legacy handler, seconds a default route must stand
   before it counts as a ready network on a link DHCP never marked. */
#define ASKPASS_ROUTE_GRACE 20

/*
 * tether luks askpass: answers systemd's passphrase requests of volumes
 * with clevis bindings with the keys they recover, until killed (the
 * initramfs stops it before switch-root). Returns -errno when it cannot
 * watch for requests.
 */
int askpass_run(void);

#endif
