/* Measuring sticks for the benchmarks: the least work a step can do.
 * A Dense(1) training step must read its batch rows once; this reads them
 * and nothing more, with the same vector width the kernels get. */
#ifndef HF_FLOOR_H
#define HF_FLOOR_H

#include <stddef.h>

/* Sum of all n*d floats of x (row-major, rows contiguous), read once in
 * order with several vector accumulators (so the loads, not the adds, bound
 * it). The sum keeps the compiler from dropping the reads. */
double hf_read_floats(const float *x, size_t count);

#endif
