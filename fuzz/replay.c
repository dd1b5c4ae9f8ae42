/* SPDX-License-Identifier: MIT */
/* Runs a fuzz target over files and directories of inputs, without
 * libFuzzer: every build replays the seed corpus and the regressions. An
 * input that takes longer than REPLAY_TIMEOUT seconds (a hang, which
 * libFuzzer's -timeout would report) fails the run and is named. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_TIMEOUT 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char current[4096]; /* the input running, for the alarm */

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "replay: input took too long (hang): ";
	ssize_t w = write(2, msg, sizeof(msg) - 1);
	w = write(2, current, strlen(current));
	w = write(2, "\n", 1);
	(void)w;
	_exit(1);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
	if (!copy)
		return 1;
	memcpy(copy, buf, n);
	snprintf(current, sizeof(current), "%s", path);
	alarm(REPLAY_TIMEOUT);
	LLVMFuzzerTestOneInput(copy, n);
	alarm(0);
	free(copy);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, bad = 0;
	signal(SIGALRM, on_alarm);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0)
			continue; /* an absent regressions dir is fine */
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]);
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char p[4096];
			snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
			bad |= run_file(p);
			files++;
		}
		if (d)
			closedir(d);
	}
	printf("replayed %d inputs\n", files);
	return bad || files == 0;
}
