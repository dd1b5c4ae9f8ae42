/* SPDX-License-Identifier: MIT */
/*
 * The tool's JSON writer (tools/json.c, behind shmq stat --json): whatever
 * the bytes of a string, the output is valid JSON that a real parser
 * (python3's json module) reads back to the same code points, and numbers,
 * booleans, null, nesting and empty containers come out as written.
 * cli_stat_json.sh checks shmq stat --json itself.
 */
#include "harness.h"

#include "json.h"

static char *emit(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	CHECK(f);
	unsigned char all[255];
	for (int i = 0; i < 255; i++)
		all[i] = (unsigned char)(i + 1);
	struct json j;
	json_init(&j, f);
	json_obj(&j, NULL);
	json_strn(&j, "all bytes", all, sizeof(all));
	json_str(&j, "quote\"key", "a \"quoted\" back\\slash");
	json_strn(&j, "nul", "a\0b", 3);
	json_str(&j, "empty", "");
	json_str(&j, "none", NULL);
	json_uint(&j, "u64", 18446744073709551615ull);
	json_int(&j, "i64", -9223372036854775807ll - 1);
	json_bool(&j, "yes", 1);
	json_bool(&j, "no", 0);
	json_arr(&j, "empty_list");
	json_end(&j);
	json_obj(&j, "empty_obj");
	json_end(&j);
	json_arr(&j, "list");
	json_uint(&j, NULL, 1);
	json_obj(&j, NULL);
	json_str(&j, "x", "y");
	json_end(&j);
	json_arr(&j, NULL);
	json_null(&j, NULL);
	json_end(&j);
	json_end(&j);
	json_end(&j);
	CHECK(fclose(f) == 0);
	return buf;
}

static const char check_py[] =
    "import json, sys\n"
    "d = json.load(sys.stdin)\n"
    "assert d['all bytes'] == ''.join(chr(i) for i in range(1, 256)), 'bytes'\n"
    "assert d['quote\"key'] == 'a \"quoted\" back\\\\slash', 'quotes'\n"
    "assert d['nul'] == 'a\\x00b', 'nul'\n"
    "assert d['empty'] == '' and d['none'] is None, 'empty'\n"
    "assert d['u64'] == 2**64 - 1 and d['i64'] == -2**63, 'numbers'\n"
    "assert d['yes'] is True and d['no'] is False, 'bools'\n"
    "assert d['empty_list'] == [] and d['empty_obj'] == {}, 'empties'\n"
    "assert d['list'] == [1, {'x': 'y'}, [None]], 'nesting'\n"
    "assert len(d) == 12, 'keys'\n";

int main(void)
{
	test_timeout(30);
	size_t len;
	char *out = emit(&len);
	/* Plain ASCII, no raw control character but the newlines between
	 * values, and a few escapes exactly as RFC 8259 spells them. */
	for (size_t i = 0; i < len; i++)
		CHECK((out[i] >= 0x20 && out[i] < 0x7f) || out[i] == '\n');
	CHECK(out[len - 1] == '\n');
	CHECK(strstr(out, "\"a \\\"quoted\\\" back\\\\slash\""));
	CHECK(strstr(out, "\\u0001\\u0002"));
	CHECK(strstr(out, "\\b\\t\\n\\u000b\\f\\r"));
	CHECK(strstr(out, "~\\u007f\\u0080"));
	CHECK(strstr(out, "\"a\\u0000b\""));
	CHECK(strstr(out, "\"empty_list\": []"));

	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		free(out);
		SKIP("python3 not found: the writer's escapes were checked, not by a parser");
	}
	char cmd[sizeof(check_py) + 64];
	char script[64];
	snprintf(script, sizeof(script), "/tmp/shmq-test-json-%d.py", (int)getpid());
	FILE *sf = fopen(script, "w");
	CHECK(sf && fputs(check_py, sf) >= 0 && fclose(sf) == 0);
	snprintf(cmd, sizeof(cmd), "python3 %s", script);
	FILE *p = popen(cmd, "w");
	CHECK(p);
	CHECK(fwrite(out, 1, len, p) == len);
	int st = pclose(p);
	unlink(script);
	if (st != 0)
		fprintf(stderr, "python3 rejected or misread:\n%s", out);
	CHECK(st == 0);
	free(out);
	printf("json: every byte 1-255, quotes, backslash, NUL, numbers at their limits, "
	       "booleans, null, empty and nested containers: read back exactly by python3\n");
	return 0;
}
