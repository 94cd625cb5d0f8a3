/* Everything the Cython bridge needs, in one include. */
#ifndef HF_CORE_H
#define HF_CORE_H
#include "hf_activation.h"
#include "hf_batchnorm.h"
#include "hf_blas.h"
#include "hf_check.h"
#include "hf_dense.h"
#include "hf_dense1.h"
#include "hf_dropout.h"
#include "hf_fpenv.h"
#include "hf_loss.h"
#include "hf_metric.h"
#include "hf_network.h"
#include "hf_optimizer.h"
#include "hf_regularizer.h"
#include "hf_rows.h"
#include "hf_shuffle.h"
#include "hf_simd.h"
#include "hf_status.h"
#endif
