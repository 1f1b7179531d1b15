/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_COMMANDS_H
#define TETHERD_COMMANDS_H

/* tetherd serve: returns the process exit status. */
int cmd_serve(int argc, char **argv);

/* tetherd keys list|create|rotate: returns the process exit status. */
int cmd_keys(int argc, char **argv);

/* tetherd KEYSDIR: tangd's one connection on stdin and stdout; returns
   the process exit status. */
int cmd_standin(const char *path);

#endif
