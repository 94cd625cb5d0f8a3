/* Input validation done once per Dataset, in C because it reads every value. */
#ifndef HF_CHECK_H
#define HF_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Index of the first row (of width w) holding a NaN or infinity, or -1. */
int64_t hf_first_nonfinite_row(const float *a, size_t rows, size_t w);

#endif
