/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_TTY_H
#define TETHER_TTY_H

#include <stddef.h>

/*
 * Questions for the operator, on the controlling terminal even when stdin
 * and stdout are pipes, as clevis asks them. Both return -ENXIO when there
 * is no terminal.
 */

/* Prints the question and reads [ynYN]: 1 for yes, 0 otherwise. */
int tty_ask_yes(const char *question);

/*
 * Reads a line with echo off, without its newline, at most max bytes.
 * Free *out with free_secret(*out, *len).
 */
int tty_read_secret(const char *prompt, size_t max, char **out, size_t *len);

#endif
