/* SPDX-License-Identifier: MIT */
/*
 * A small streaming JSON writer for the tool's machine-readable output
 * (shmq stat --json). One call per value, so adding a field to an object is
 * one line:
 *
 *	json_obj(&j, NULL);
 *	json_str(&j, "state", "live");
 *	json_uint(&j, "slots", 64);
 *	json_end(&j);
 *
 * Keys are given inside objects and NULL inside arrays. Output is indented,
 * two spaces a level. Strings are escaped as RFC 8259 requires: '"', '\'
 * and control characters; a byte of 0x7f or above is written as \u00XX (the
 * code point of that byte value), so the output is plain ASCII and valid
 * JSON whatever the bytes were.
 */
#ifndef SHMQ_TOOL_JSON_H
#define SHMQ_TOOL_JSON_H

#include <stddef.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16 /* nesting deeper than this is a caller's bug */

struct json {
	FILE *f;
	int depth;
	int count[JSON_MAX_DEPTH];   /* values so far at each level */
	char closer[JSON_MAX_DEPTH]; /* '}' or ']' for each open level */
};

void json_init(struct json *j, FILE *f);
/* Open an object or array (as the value of key, or an element). */
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
/* Close the innermost object or array; after the outermost, a newline. */
void json_end(struct json *j);

void json_str(struct json *j, const char *key, const char *s); /* NULL: null */
void json_strn(struct json *j, const char *key, const void *s, size_t len);
void json_uint(struct json *j, const char *key, unsigned long long v);
void json_int(struct json *j, const char *key, long long v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);

/* A string's JSON form, quotes included. */
void json_write_string(FILE *f, const void *s, size_t len);

#endif
