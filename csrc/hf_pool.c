/* clock_gettime and pthreads under -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "hf_pool.h"

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
    for (;;) {
        pthread_mutex_unlock(&lock);
        spin_until(new_job, &seen); /* the next product of the same step, often */
        pthread_mutex_lock(&lock);
        while (generation == seen && me < quit_from)
            pthread_cond_wait(&wake, &lock);
        if (me >= quit_from)
            break;
        seen = generation;
        job j = current;
        pthread_mutex_unlock(&lock);
        const hf_fpenv own = hf_fpenv_switch(j.fpenv);
        run_tasks(seen, &j);
        hf_fpenv_leave(own);
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
    pthread_mutex_unlock(&busy);
    return st;
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
    if (n_workers == 0 || n_tasks > 0xFFFFFFFFu) {
        pthread_mutex_unlock(&busy);
        run_serially(n_tasks, fn, ctx);
        return;
    }
    pthread_mutex_lock(&lock);
    const uint32_t gen = ++generation;
    current.fn = fn;
    current.ctx = ctx;
    current.n_tasks = n_tasks;
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
