#include "hf_hook_times.h"

/* ns > limit * count (count >= 1) without overflowing the product. */
static int exceeds(int64_t ns, int64_t limit, int64_t count) {
    if (limit >= 0 ? limit > INT64_MAX / count : limit < INT64_MIN / count)
        return limit < 0;
    return ns > limit * count;
}

int hf_hook_times_record(const int64_t *times, size_t m, size_t n, int64_t *acc, int64_t *least,
                         hf_hook_judged *judged, int judging, int64_t limit_ns) {
    for (size_t k = 0; k < n; k++) {
        int64_t sum = 0, low = least[k];
        for (size_t i = 0; i < m; i++) {
            int64_t dt = times[i * n + k];
            sum += dt;
            if (dt < low)
                low = dt;
        }
        acc[k] += sum;
        least[k] = low;
    }
    if (!judging)
        return 0;
    for (size_t i = 0; i < m; i++) {
        int64_t total = 0;
        for (size_t k = 0; k < n; k++)
            total += times[i * n + k];
        int slow = 0;
        if (judged->count >= 0) {
            judged->ns += total;
            slow = exceeds(judged->ns, limit_ns, judged->count + 1);
        }
        judged->count++;
        if (slow)
            return 1;
    }
    return 0;
}
