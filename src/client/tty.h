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

/*
 * One line of standard input, without its newline, at most max bytes, read
 * a byte at a time so nothing after it is consumed (clevis's `read -r`).
 * Free *out with free_secret(*out, *len).
 */
int stdin_read_line(size_t max, char **out, size_t *len);

/*
 * A secret as clevis's `read -r -s -p PROMPT` reads it: from the terminal
 * with echo off when standard input is one, else one line of standard
 * input. Free *out with free_secret(*out, *len).
 */
int passphrase_read(const char *prompt, size_t max, char **out, size_t *len);

#endif
