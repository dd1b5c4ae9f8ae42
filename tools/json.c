/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <string.h>

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

void json_write_string(FILE *f, const void *s, size_t len)
{
	const unsigned char *p = s;
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* Before a value: the comma after the previous one, the newline and
 * indentation, and "key": inside an object. */
static void value_start(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->count[j->depth]++)
			fputc(',', j->f);
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	}
	if (key) {
		json_write_string(j->f, key, strlen(key));
		fputs(": ", j->f);
	}
}

static void open_level(struct json *j, const char *key, char open, char close)
{
	value_start(j, key);
	fputc(open, j->f);
	if (j->depth + 1 < JSON_MAX_DEPTH) {
		j->depth++;
		j->count[j->depth] = 0;
		j->closer[j->depth] = close;
	}
}

void json_obj(struct json *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void json_arr(struct json *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void json_end(struct json *j)
{
	if (j->depth == 0)
		return;
	if (j->count[j->depth])
		fprintf(j->f, "\n%*s", 2 * (j->depth - 1), "");
	fputc(j->closer[j->depth], j->f);
	j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void json_strn(struct json *j, const char *key, const void *s, size_t len)
{
	value_start(j, key);
	json_write_string(j->f, s, len);
}

void json_str(struct json *j, const char *key, const char *s)
{
	if (!s) {
		json_null(j, key);
		return;
	}
	json_strn(j, key, s, strlen(s));
}

void json_uint(struct json *j, const char *key, unsigned long long v)
{
	value_start(j, key);
	fprintf(j->f, "%llu", v);
}

void json_int(struct json *j, const char *key, long long v)
{
	value_start(j, key);
	fprintf(j->f, "%lld", v);
}

void json_bool(struct json *j, const char *key, int v)
{
	value_start(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	value_start(j, key);
	fputs("null", j->f);
}
