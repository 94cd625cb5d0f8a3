/* Batch rows addressed inside a full array, in place, by position.
 *
 * Row i of a batch is base[(order ? order[start + i] : start + i) * width]:
 * shuffling passes a permutation instead of copying rows. */
#ifndef HF_ROWS_H
#define HF_ROWS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_rows {
    const float *base;     /* the full (n_rows x width) array, C order */
    size_t width;
    const int64_t *order;  /* NULL: identity */
    size_t start;          /* first position of the batch */
} hf_rows;

static inline const float *hf_row(const hf_rows *r, size_t i)
{
    size_t p = r->start + i;
    return r->base + (r->order ? (size_t)r->order[p] : p) * r->width;
}

static inline hf_rows hf_rows_plain(const float *base, size_t width)
{
    hf_rows r = {base, width, NULL, 0};
    return r;
}

#endif
