/* sched_getaffinity and the CPU_* macros */
#define _GNU_SOURCE

#include "hf_cpu_share.h"

#if defined(__linux__)
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "some ... total=<us>" of /proc/pressure/cpu, or -1 (no PSI in this kernel). */
static int64_t read_cpu_pressure(void)
{
    FILE *f = fopen("/proc/pressure/cpu", "r");
    if (f == NULL)
        return -1;
    char line[256];
    int64_t total = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        const char *at = strstr(line, "total=");
        if (strncmp(line, "some", 4) == 0 && at != NULL) {
            total = (int64_t)strtoll(at + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return total;
}

int hf_cpu_read(hf_cpu_reading *r)
{
    cpu_set_t mask;
    const int have_mask = sched_getaffinity(0, sizeof mask, &mask) == 0;
    const long ticks_per_s = sysconf(_SC_CLK_TCK);
    if (ticks_per_s <= 0)
        return 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    char line[512];
    unsigned long long busy = 0;
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        /* Per-CPU lines only: "cpuN user nice system idle iowait irq softirq steal ..." */
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
            continue;
        char *p = line + 3;
        const unsigned long cpu = strtoul(p, &p, 10);
        if (have_mask && (cpu >= CPU_SETSIZE || !CPU_ISSET((int)cpu, &mask)))
            continue;
        unsigned long long v[7] = {0};
        for (int i = 0; i < 7; i++)
            v[i] = strtoull(p, &p, 10);
        busy += v[0] + v[1] + v[2] + v[5] + v[6]; /* user nice system irq softirq */
        n++;
    }
    fclose(f);
    if (n == 0)
        return 0;
    r->wall_ns = clock_ns(CLOCK_MONOTONIC);
    r->own_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    if (r->wall_ns < 0 || r->own_ns < 0)
        return 0;
    r->busy_s = (double)busy / (double)ticks_per_s;
    r->n_cpus = n;
    r->wait_us = read_cpu_pressure();
    return 1;
}
#else
int hf_cpu_read(hf_cpu_reading *r)
{
    (void)r;
    return 0;
}
#endif

double hf_cpu_others(const hf_cpu_reading *a, const hf_cpu_reading *b)
{
    const double wall = (double)(b->wall_ns - a->wall_ns) * 1e-9;
    if (wall <= 0.0)
        return 0.0;
    const double others = (b->busy_s - a->busy_s) - (double)(b->own_ns - a->own_ns) * 1e-9;
    return others > 0.0 ? others / wall : 0.0;
}

double hf_cpu_waiting(const hf_cpu_reading *a, const hf_cpu_reading *b)
{
    if (a->wait_us < 0 || b->wait_us < 0 || b->wall_ns <= a->wall_ns)
        return -1.0;
    const double waited = (double)(b->wait_us - a->wait_us) * 1e3;
    return waited > 0.0 ? waited / (double)(b->wall_ns - a->wall_ns) : 0.0;
}

size_t hf_cpu_threads_worth(double others, double waiting, int n_cpus, size_t threads,
                            size_t current)
{
    const double free_cpus = (double)n_cpus - (others > 0.0 ? others : 0.0);
    size_t k = free_cpus < 1.5 ? 1 : (size_t)(free_cpus + 0.5);
    if (waiting > 0.2 && current >= 1 && k >= current)
        k = current > 1 ? current - 1 : 1;
    if (k > threads)
        k = threads;
    return k < 1 ? 1 : k;
}
