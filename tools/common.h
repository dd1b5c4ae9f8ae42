/* SPDX-License-Identifier: MIT */
/* Helpers shared by the shmq subcommands. Public API only. */
#ifndef SHMQ_TOOL_COMMON_H
#define SHMQ_TOOL_COMMON_H

#include <getopt.h>
#include <stdio.h>

#include "shmq.h"

extern const char *prog; /* "shmq server", ... for messages */

/* Print "shmq <cmd>: <message>" on stderr. */
void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* After getopt_long returned '?' or ':': name the offending option, exit 2. */
void die_bad_option(char **argv) __attribute__((noreturn));

/* Parsers: return 0 and set *out, or -1 after printing an error. */
int parse_u64(const char *opt, const char *s, unsigned long long lo, unsigned long long hi,
	      unsigned long long *out);
int parse_size(const char *opt, const char *s, unsigned long long *out); /* 64k, 1M */
int parse_key(const char *s, int *out);
int parse_mode(const char *s, unsigned *out);
int parse_spin(const char *s, uint32_t *out); /* microseconds or "forever" */
int parse_owner(const char *s, uid_t *out);   /* a user name or a uid */
/* s for a one-line message: \xNN for what is not printable, "..." past cap. */
void escape_str(char *buf, size_t cap, const char *s);

/* Endpoint options common to all subcommands. Returns 1 if handled. */
#define ENDPOINT_OPTS \
	{ "key", required_argument, 0, 'k' }, { "name", required_argument, 0, 'n' }, \
	{ "mode", required_argument, 0, 'm' }, { "help", no_argument, 0, 'h' }
int endpoint_opt(int c, const char *arg, shmq_config *cfg);
/* "key 1234" (unsigned decimal, as typed by default) or "name /q" */
const char *endpoint_str(const shmq_config *cfg);

/* Write bytes for a human: printable ASCII as is, others as \xNN. */
void print_escaped(FILE *f, const void *data, size_t len);

/* Open /dev/null on each of fds 0-2 that is closed: 0, or -1. */
int open_stdio(void);

int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_bench(int argc, char **argv); /* execs shmq-bench */
int cmd_bridge(int argc, char **argv); /* execs shmq-bridge */
/* Run the program exe (looked for beside this one, in libexec, bindir, PATH)
 * with argv, argv[0] set to argv0: returns only on failure, -errno
 * (-ENOENT: not found). */
int exec_helper(const char *exe, char *argv0, char **argv);

#endif
