/* Flush denormals to zero inside the kernels, then restore the caller's mode.
 *
 * RMSprop velocities of dead ReLU units decay into the denormal range, where
 * x86 arithmetic is ~100x slower; TensorFlow sets FTZ/DAZ for the same reason.
 * The caller's MXCSR is saved on entry and restored on exit, so Python code
 * running after a step sees its usual IEEE behaviour. No-op off x86. */
#ifndef HF_FPENV_H
#define HF_FPENV_H

#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
typedef unsigned int hf_fpenv;
#define HF_MXCSR_FTZ_DAZ 0x8040u
static inline hf_fpenv hf_fpenv_enter(void)
{
    hf_fpenv saved = _mm_getcsr();
    _mm_setcsr(saved | HF_MXCSR_FTZ_DAZ);
    return saved;
}
static inline void hf_fpenv_leave(hf_fpenv saved) { _mm_setcsr(saved); }
/* The mode in force, and a switch to a given one (the pool's workers run a
 * job's tasks in the caller's mode: the same bits whoever runs a task). */
static inline hf_fpenv hf_fpenv_now(void) { return _mm_getcsr(); }
static inline hf_fpenv hf_fpenv_switch(hf_fpenv to)
{
    hf_fpenv saved = _mm_getcsr();
    _mm_setcsr(to);
    return saved;
}
#else
typedef int hf_fpenv;
static inline hf_fpenv hf_fpenv_enter(void) { return 0; }
static inline void hf_fpenv_leave(hf_fpenv saved) { (void)saved; }
static inline hf_fpenv hf_fpenv_now(void) { return 0; }
static inline hf_fpenv hf_fpenv_switch(hf_fpenv to) { (void)to; return 0; }
#endif

#endif
