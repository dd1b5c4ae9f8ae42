/* SPDX-License-Identifier: MIT */
/* What machine the numbers come from, and how busy it is besides us. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

struct machine_info bench_machine;

void cpu_times_read(struct cpu_times *t)
{
	*t = (struct cpu_times){ 0 };
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return;
	unsigned long long v[10] = { 0 };
	/* cpu user nice system idle iowait irq softirq steal guest guest_nice;
	 * guest time is already counted in user. */
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		t->busy = v[0] + v[1] + v[2] + v[5] + v[6];
		t->idle = v[3] + v[4];
		t->steal = v[7];
		t->ok = 1;
	}
	fclose(f);
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
}

static int read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *ok = fgets(buf, (int)n, f);
	fclose(f);
	if (!ok)
		return -1;
	trim(buf);
	return buf[0] ? 0 : -1;
}

static void cpu_model(char *out, size_t n)
{
	snprintf(out, n, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) != 0)
			continue;
		char *colon = strchr(line, ':');
		if (colon) {
			trim(colon);
			snprintf(out, n, "%s", colon + 2);
		}
		break;
	}
	fclose(f);
}

/* The hypervisor bit of CPUID and what DMI or systemd says about it. */
static void virt_info(char *out, size_t n)
{
	char flags[16] = "", buf[128] = "";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[4096];
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "flags", 5)) {
				if (strstr(line, " hypervisor"))
					snprintf(flags, sizeof(flags), "hypervisor");
				break;
			}
		fclose(f);
	}
	if (read_line("/sys/class/dmi/id/sys_vendor", buf, sizeof(buf)) == 0) {
		char prod[64] = "";
		read_line("/sys/class/dmi/id/product_name", prod, sizeof(prod));
		snprintf(out, n, "%s%s%s%s", flags[0] ? "virtualised: " : "", buf,
			 prod[0] ? " " : "", prod);
		return;
	}
	FILE *p = popen("systemd-detect-virt 2>/dev/null", "r");
	if (p) {
		if (!fgets(buf, sizeof(buf), p))
			buf[0] = 0;
		pclose(p);
		trim(buf);
	}
	if (flags[0])
		snprintf(out, n, "virtualised (CPUID hypervisor bit)%s%s", buf[0] ? ", systemd-detect-virt: " : "",
			 buf);
	else
		snprintf(out, n, "%s", buf[0] && strcmp(buf, "none") ? buf : "bare metal");
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void machine_info_get(struct machine_info *m)
{
	*m = (struct machine_info){ 0 };
	cpu_model(m->cpu, sizeof(m->cpu));
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	m->ncpu = n > 0 ? (unsigned)n : 1;
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%.20s %.64s %.20s", u.sysname, u.release,
			 u.machine);
	virt_info(m->virt, sizeof(m->virt));
	/* Median cost of one clock read: it is inside every timed round trip. */
	double v[64];
	for (int i = 0; i < 64; i++) {
		uint64_t a = bench_now_ns();
		for (int k = 0; k < 63; k++)
			bench_now_ns();
		v[i] = (double)(bench_now_ns() - a) / 64.0;
	}
	qsort(v, 64, sizeof(v[0]), cmp_dbl);
	m->timer_ns = v[32];
}

void machine_info_print(FILE *f, const struct machine_info *m)
{
	fprintf(f, "machine: %s, %u CPUs online, %s, %s\n", m->cpu, m->ncpu, m->kernel, m->virt);
	fprintf(f, "clock: CLOCK_MONOTONIC, %.0f ns per read\n", m->timer_ns);
}
