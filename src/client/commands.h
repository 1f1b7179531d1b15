/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_COMMANDS_H
#define TETHER_COMMANDS_H

/* Each returns the process exit status. */
int cmd_encrypt(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);

/* tether heartbeat: -d DEV runs `tether luks heartbeat -d DEV`. */
int cmd_heartbeat(int argc, char **argv);

/*
 * tether luks SUBCOMMAND ...: in tether-luks the commands themselves
 * (luks.c), in tether a run of tether-luks (luks_exec.c).
 */
int cmd_luks(int argc, char **argv);

#endif
