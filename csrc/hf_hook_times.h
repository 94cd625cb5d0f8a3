/* The bookkeeping of timed hook dispatches: each callback's total and
 * fastest call for the cost table, and the judgement that a hook table is
 * slow enough to time every call. Done once per hand-over of a run of
 * dispatches (the core's hooked loop hands one over every 8). */
#ifndef HF_HOOK_TIMES_H
#define HF_HOOK_TIMES_H

#include <stddef.h>
#include <stdint.h>

/* A hook table's judgement so far: the judged dispatches' total time (ns)
 * and count. count -1: its first dispatch, which often pays a one-off
 * set-up (TensorBoard opening its event file), is still to come and is not
 * judged. */
typedef struct {
    int64_t ns;
    int64_t count;
} hf_hook_judged;

/* ``m`` timed dispatches of ``n`` callbacks, callback k's duration of
 * dispatch i at ``times[i * n + k]`` (ns): adds each callback's durations
 * to ``acc[k]`` and lowers ``least[k]`` to its fastest. With ``judging``,
 * each dispatch's total (over the callbacks) is judged in order; returns 1
 * at the first after which the judged mean exceeds ``limit_ns`` (the
 * judgement stops there), else 0 (and ``judged`` holds the new total). */
int hf_hook_times_record(const int64_t *times, size_t m, size_t n, int64_t *acc, int64_t *least,
                         hf_hook_judged *judged, int judging, int64_t limit_ns);

#endif
