/* clock_gettime and pthreads under -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "hf_pool.h"

#include "hf_cpu_share.h"
#include "hf_fpenv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* One job at a time. A claim is a (generation, index) pair packed in one
 * 64-bit word, so a worker that wakes late can never take an index of a
 * newer job with an older job's function. */
typedef struct job {
    hf_task_fn fn;
    void *ctx;
    size_t n_tasks;
    size_t workers; /* workers that take part (the first ones): fewer when CPUs are shared */
    hf_fpenv fpenv; /* the caller's floating-point mode (flush to zero) */
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;     /* a new job or quit */
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER; /* the last task of a job ended */
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;   /* one caller at a time */

static job current;
static uint32_t generation;              /* under lock */
static _Atomic uint64_t ticket;          /* generation << 32 | next index */
static _Atomic size_t completed;         /* tasks of the current job done */
static int caller_sleeping;              /* under lock */
static size_t n_workers;                 /* under busy */
static size_t quit_from = SIZE_MAX;      /* workers with index >= this leave; under lock */
static pthread_t workers[HF_POOL_MAX_THREADS];

/* Sharing the CPUs (hf_pool_share), all under busy: the last reading of the
 * CPU counters and the threads worth running since then (0: every one). */
static int share;
static int have_reading;
static hf_cpu_reading last_reading;
static size_t share_use;
/* Readings at least this far apart: the kernel counts CPU time in ticks of
 * 10 ms, so a tenth of a second gives the busy share to about 10%. */
enum { SHARE_EVERY_NS = 100000000 };

/* How long a thread polls before it sleeps: long enough to catch the next
 * product of the same step, short enough to cost a neighbour little. */
enum { SPIN_NS = 50000 };

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pause_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    for (int p = 0; p < 32; p++)
        __builtin_ia32_pause();
#endif
}

/* Poll until done() holds or SPIN_NS pass; returns whether it holds. */
static int spin_until(int (*done)(const void *), const void *arg)
{
    const int64_t end = now_ns() + SPIN_NS;
    do {
        if (done(arg))
            return 1;
        pause_cpu();
    } while (now_ns() < end);
    return done(arg);
}

static int new_job(const void *seen)
{
    return (uint32_t)(atomic_load_explicit(&ticket, memory_order_acquire) >> 32) !=
           *(const uint32_t *)seen;
}

static int all_done(const void *n_tasks)
{
    return atomic_load_explicit(&completed, memory_order_acquire) == *(const size_t *)n_tasks;
}

/* Claim and run tasks of job (gen, j) until none is left. */
static void run_tasks(uint32_t gen, const job *j)
{
    for (;;) {
        uint64_t t = atomic_load_explicit(&ticket, memory_order_acquire);
        for (;;) {
            if ((uint32_t)(t >> 32) != gen || (t & 0xFFFFFFFFu) >= j->n_tasks)
                return;
            if (atomic_compare_exchange_weak_explicit(&ticket, &t, t + 1, memory_order_acq_rel,
                                                      memory_order_acquire))
                break;
        }
        j->fn(j->ctx, (size_t)(t & 0xFFFFFFFFu));
        size_t done = atomic_fetch_add_explicit(&completed, 1, memory_order_acq_rel) + 1;
        if (done == j->n_tasks) {
            pthread_mutex_lock(&lock);
            if (caller_sleeping)
                pthread_cond_signal(&finished);
            pthread_mutex_unlock(&lock);
        }
    }
}

static void *worker_main(void *arg)
{
    const size_t me = (size_t)(uintptr_t)arg;
    pthread_mutex_lock(&lock);
    uint32_t seen = generation;
    int took_part = 0;
    for (;;) {
        pthread_mutex_unlock(&lock);
        if (took_part) /* a worker left out of a job sleeps: its CPU is wanted elsewhere */
            spin_until(new_job, &seen); /* the next product of the same step, often */
        pthread_mutex_lock(&lock);
        while (generation == seen && me < quit_from)
            pthread_cond_wait(&wake, &lock);
        if (me >= quit_from)
            break;
        seen = generation;
        job j = current;
        pthread_mutex_unlock(&lock);
        took_part = me < j.workers;
        if (took_part) {
            const hf_fpenv own = hf_fpenv_switch(j.fpenv);
            run_tasks(seen, &j);
            hf_fpenv_leave(own);
        }
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* In a child made by fork() only the forking thread exists: start over with
 * no workers (and fresh locks, which another thread may have held). */
static void after_fork_in_child(void)
{
    pthread_mutex_t fresh_mutex = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cond = PTHREAD_COND_INITIALIZER;
    lock = fresh_mutex;
    busy = fresh_mutex;
    wake = fresh_cond;
    finished = fresh_cond;
    n_workers = 0;
    caller_sleeping = 0;
    quit_from = SIZE_MAX;
    have_reading = 0;
    share_use = 0;
}

static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

static void install_fork_handler(void) { pthread_atfork(NULL, NULL, after_fork_in_child); }

size_t hf_pool_size(void)
{
    pthread_mutex_lock(&busy);
    size_t n = n_workers + 1;
    pthread_mutex_unlock(&busy);
    return n;
}

hf_status hf_pool_resize(size_t n)
{
    if (n < 1 || n > HF_POOL_MAX_THREADS)
        return HF_ERR_SHAPE;
    pthread_mutex_lock(&busy);
    hf_status st = HF_OK;
    size_t want = n - 1;
    if (want < n_workers) {
        pthread_mutex_lock(&lock);
        quit_from = want;
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&lock);
        for (size_t i = want; i < n_workers; i++)
            pthread_join(workers[i], NULL);
        pthread_mutex_lock(&lock);
        quit_from = SIZE_MAX;
        pthread_mutex_unlock(&lock);
        n_workers = want;
    }
    if (want > 0)
        pthread_once(&fork_handler_once, install_fork_handler);
    while (n_workers < want) {
        if (pthread_create(&workers[n_workers], NULL, worker_main, (void *)(uintptr_t)n_workers) != 0) {
            st = HF_ERR_RANGE;
            break;
        }
        n_workers++;
    }
    have_reading = 0; /* a new size: estimate afresh */
    share_use = 0;
    pthread_mutex_unlock(&busy);
    return st;
}

void hf_pool_share(int on)
{
    pthread_mutex_lock(&busy);
    share = on != 0;
    have_reading = 0;
    share_use = 0;
    pthread_mutex_unlock(&busy);
}

/* The threads of `all` that sharing mode leaves a job (under busy). */
static size_t shared_threads(size_t all)
{
    return share && share_use != 0 && share_use < all ? share_use : all;
}

/* Threads a job uses now, of `all` (under busy): in sharing mode, the CPUs
 * other processes left free over the time since the last reading. */
static size_t threads_now(size_t all)
{
    if (!share)
        return all;
    const int64_t now = now_ns();
    if (!have_reading || now - last_reading.wall_ns >= SHARE_EVERY_NS) {
        hf_cpu_reading r;
        if (!hf_cpu_read(&r)) {
            share = 0; /* no counters here: keep every thread, and stop asking */
            return all;
        }
        if (have_reading)
            share_use = hf_cpu_threads_worth(hf_cpu_others(&last_reading, &r),
                                             hf_cpu_waiting(&last_reading, &r), r.n_cpus, all,
                                             shared_threads(all));
        last_reading = r;
        have_reading = 1;
    }
    return shared_threads(all);
}

int hf_pool_sharing(void)
{
    pthread_mutex_lock(&busy);
    const int on = share;
    pthread_mutex_unlock(&busy);
    return on;
}

size_t hf_pool_active(void)
{
    pthread_mutex_lock(&busy);
    const size_t n = shared_threads(n_workers + 1);
    pthread_mutex_unlock(&busy);
    return n;
}

static void run_serially(size_t n_tasks, hf_task_fn fn, void *ctx)
{
    for (size_t t = 0; t < n_tasks; t++)
        fn(ctx, t);
}

void hf_pool_run(size_t n_tasks, hf_task_fn fn, void *ctx)
{
    if (n_tasks == 0)
        return;
    if (n_tasks == 1 || pthread_mutex_trylock(&busy) != 0) {
        run_serially(n_tasks, fn, ctx);
        return;
    }
    const size_t use = n_workers == 0 ? 1 : threads_now(n_workers + 1);
    if (use <= 1 || n_tasks > 0xFFFFFFFFu) {
        pthread_mutex_unlock(&busy);
        run_serially(n_tasks, fn, ctx);
        return;
    }
    pthread_mutex_lock(&lock);
    const uint32_t gen = ++generation;
    current.fn = fn;
    current.ctx = ctx;
    current.n_tasks = n_tasks;
    current.workers = use - 1;
    current.fpenv = hf_fpenv_now();
    atomic_store_explicit(&completed, 0, memory_order_relaxed);
    atomic_store_explicit(&ticket, (uint64_t)gen << 32, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);

    job j = current;
    run_tasks(gen, &j);
    /* Wait for the tasks other threads claimed: poll briefly, then sleep. */
    spin_until(all_done, &n_tasks);
    pthread_mutex_lock(&lock);
    caller_sleeping = 1;
    while (atomic_load_explicit(&completed, memory_order_acquire) != n_tasks)
        pthread_cond_wait(&finished, &lock);
    caller_sleeping = 0;
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&busy);
}
