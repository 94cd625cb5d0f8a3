/* A small process-wide pool of worker threads for the parts of a step that
 * split into independent tasks (column blocks of a large product, ranges of
 * rows or parameters).
 *
 * - The calling thread takes part, so a pool of n threads starts n - 1.
 * - Tasks are claimed one at a time from a shared counter: a thread slowed by
 *   a neighbour process on its core simply claims fewer, instead of holding
 *   everyone back as a static split does.
 * - Idle workers spin briefly (back-to-back jobs within a step) and then
 *   sleep on a condition variable: an idle pool costs no CPU.
 * - What a task computes must depend only on its index, never on which
 *   thread runs it: callers use a fixed partition, so results are bitwise the
 *   same for any thread count.
 * - Two callers at once (two networks in two Python threads): the second
 *   runs its tasks itself, serially, with the same results. */
#ifndef HF_POOL_H
#define HF_POOL_H

#include <stddef.h>

#include "hf_status.h"

#define HF_POOL_MAX_THREADS 64

typedef void (*hf_task_fn)(void *ctx, size_t task);

/* Use n threads in all (1 = the caller alone). HF_ERR_SHAPE for n outside
 * [1, HF_POOL_MAX_THREADS]; HF_ERR_RANGE when a worker cannot be started
 * (the pool then keeps the threads it has). Not while a job runs. */
hf_status hf_pool_resize(size_t n);

/* Threads in use, the caller included. */
size_t hf_pool_size(void);

/* Sharing mode (hookfit's default thread count): each job uses only as many
 * of the pool's threads as there are CPUs other processes leave free, read
 * from the kernel's CPU counters at most every 0.1 s (hf_cpu_share.h); a
 * job that gets one thread runs on the caller alone. Results are the same
 * either way. Off: every thread, always. */
void hf_pool_share(int on);

/* Whether sharing mode is on (it turns itself off where the CPU counters
 * cannot be read). */
int hf_pool_sharing(void);

/* Threads the next job would use (the caller included). */
size_t hf_pool_active(void);

/* Run fn(ctx, t) for t in [0, n_tasks), each exactly once; returns when all
 * are done. */
void hf_pool_run(size_t n_tasks, hf_task_fn fn, void *ctx);

/* The length of piece t when `total` items are cut into pieces of `per`
 * (the last piece takes what is left). */
static inline size_t hf_piece_len(size_t total, size_t per, size_t t)
{
    const size_t first = t * per;
    return total - first < per ? total - first : per;
}

#endif
