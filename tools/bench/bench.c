/* SPDX-License-Identifier: MIT */
#include "common.h"

int cmd_bench(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	errorf("not built yet");
	return 1;
}
