/* How many of this process's CPUs other processes keep busy, read from the
 * kernel's per-CPU time counters (Linux /proc/stat) between two readings.
 *
 * The pool (hf_pool.h) uses it in its default mode: a job split over two
 * threads while a neighbour process keeps the second CPU busy waits for
 * whichever thread the scheduler preempts (several milliseconds at a time),
 * and ends up slower than one thread alone. Reading who else is busy lets
 * the pool run on the CPUs that are actually free. Elsewhere than Linux
 * there is no reading and the pool keeps all its threads. */
#ifndef HF_CPU_SHARE_H
#define HF_CPU_SHARE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_cpu_reading {
    int64_t wall_ns; /* CLOCK_MONOTONIC */
    int64_t own_ns;  /* this process's CPU time, all its threads */
    double busy_s;   /* busy time of the CPUs in the affinity mask, everyone's */
    int n_cpus;      /* CPUs in the affinity mask */
    int64_t wait_us; /* time some task waited for a CPU (Linux's pressure
                      * counter, /proc/pressure/cpu), or -1 without one */
} hf_cpu_reading;

/* 1 and *r filled, or 0 when the counters cannot be read (not Linux, no /proc). */
int hf_cpu_read(hf_cpu_reading *r);

/* CPUs kept busy by other processes between readings a and b, on average
 * (0 when b is not later than a). Steal time (the hypervisor's) is not
 * counted: it slows every thread alike. */
double hf_cpu_others(const hf_cpu_reading *a, const hf_cpu_reading *b);

/* The share of the time between readings a and b during which some task
 * waited for a CPU, or -1 when there is no pressure counter. */
double hf_cpu_waiting(const hf_cpu_reading *a, const hf_cpu_reading *b);

/* Threads worth running next, of `threads`, on n_cpus CPUs, after a window
 * in which jobs used `current` threads, other processes kept `others` CPUs
 * busy and tasks waited for a CPU a `waiting` share of the time (< 0:
 * unknown). The free CPUs, rounded to the nearest, within [1, threads];
 * but while tasks queue for the CPUs (waiting > 0.2), never more than
 * current - 1: a neighbour that shares a CPU with one of our threads shows
 * as half a CPU busy (the scheduler halves that CPU between the two), which
 * alone would keep both threads and their waits. */
size_t hf_cpu_threads_worth(double others, double waiting, int n_cpus, size_t threads,
                            size_t current);

#endif
