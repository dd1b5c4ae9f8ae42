/* SPDX-License-Identifier: MIT */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>

const char *prog = "shmq";

void errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see '%s --help')\n", prog);
	va_end(ap);
	exit(2);
}

void die_bad_option(char **argv)
{
	/* getopt_long leaves the offending word just before optind. */
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	if (optopt == 0)
		die_usage("unknown option '%s'", arg);
	die_usage("option '%s' is unknown or needs a value", arg);
}

int parse_u64(const char *opt, const char *s, unsigned long long lo, unsigned long long hi,
	      unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		goto bad;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	errorf("invalid value '%s' for %s (expected %llu..%llu)", s, opt, lo, hi);
	return -1;
}

int parse_size(const char *opt, const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		goto bad;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024ull * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1024ull * 1024 * 1024, end++;
	if (errno || *end || v > (1ull << 40) / mul)
		goto bad;
	*out = v * mul;
	return 0;
bad:
	errorf("invalid size '%s' for %s (bytes, or with a k/M/G suffix)", s, opt);
	return -1;
}

int parse_key(const char *s, int *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (!*s || errno || *end || v < -2147483648LL || v > 4294967295LL || v == 0) {
		errorf("invalid key '%s' (a non-zero 32-bit number, decimal or 0x hex)", s);
		return -1;
	}
	*out = (int)(unsigned)v;
	return 0;
}

int parse_mode(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 8);
	if (!*s || errno || *end || v > 0777 || !(v & 0600) || (v & 0600) != 0600) {
		errorf("invalid mode '%s' (octal, at most 0777, owner read-write: e.g. 0600, 0660)", s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int parse_spin(const char *s, uint32_t *out)
{
	if (!strcmp(s, "forever") || !strcmp(s, "poll")) {
		*out = SHMQ_SPIN_FOREVER;
		return 0;
	}
	unsigned long long v;
	if (parse_u64("--spin", s, 0, 10000000, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int parse_owner(const char *s, uid_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s >= '0' && *s <= '9' && !errno && !*end && v < (unsigned long long)(uid_t)-1) {
		*out = (uid_t)v;
		return 0;
	}
	struct passwd *pw = *s ? getpwnam(s) : NULL;
	if (pw) {
		*out = pw->pw_uid;
		return 0;
	}
	char shown[80];
	escape_str(shown, sizeof(shown), s);
	errorf("unknown user '%s' for --owner (a user name or a numeric uid)", shown);
	return -1;
}

/* The library's rule for POSIX names (seg_address), checked here so that a
 * bad name is a usage error that says what is allowed. */
static int name_valid(const char *arg)
{
	static const char reserved[] = "shmq.sysv.";
	const char *n = arg[0] == '/' ? arg + 1 : arg;
	size_t len = strlen(n);
	if (len == 0 || len > SHMQ_NAME_MAX || n[0] == '.' ||
	    !strncmp(n, reserved, sizeof(reserved) - 1))
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

void escape_str(char *buf, size_t cap, const char *s)
{
	size_t o = 0;
	if (cap < 8) {
		if (cap)
			buf[0] = '\0';
		return;
	}
	for (; *s; s++) {
		if (o + 4 + 3 + 1 > cap) { /* room for one more, "..." and NUL? */
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", ch);
	}
	buf[o] = '\0';
}

int endpoint_opt(int c, const char *arg, shmq_config *cfg)
{
	switch (c) {
	case 'k':
		if (parse_key(arg, &cfg->key) < 0)
			exit(2);
		cfg->name = NULL;
		return 1;
	case 'n':
		if (!name_valid(arg)) {
			char shown[80];
			escape_str(shown, sizeof(shown), arg);
			die_usage("invalid name '%s' (1 to %d of A-Z a-z 0-9 . _ -, after an optional "
				  "'/'; not starting with '.' or 'shmq.sysv.')",
				  shown, SHMQ_NAME_MAX);
		}
		cfg->name = arg;
		return 1;
	case 'm':
		if (parse_mode(arg, &cfg->mode) < 0)
			exit(2);
		return 1;
	default:
		return 0;
	}
}

const char *endpoint_str(const shmq_config *cfg)
{
	static char buf[SHMQ_NAME_MAX + 32];
	if (cfg->name)
		snprintf(buf, sizeof(buf), "name %s", cfg->name);
	else
		snprintf(buf, sizeof(buf), "key %u", (unsigned)cfg->key); /* never negative */
	return buf;
}

void print_escaped(FILE *f, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			fputc(p[i], f);
		else if (p[i] == '\\')
			fputs("\\\\", f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

/* Started with standard input, output or error closed (shmq server >&-),
 * the next file we open would become one of them, and what we print would
 * land in it. The library keeps its own files above 2; this covers
 * everything else (shmq bench's pipes and sockets, stdio). */
int open_stdio(void)
{
	for (int fd = 0; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int null = open("/dev/null", O_RDWR);
		if (null != fd) {
			if (null >= 0)
				close(null);
			return -1;
		}
	}
	return 0;
}
