# cython: language_level=3
"""C declarations of csrc/ for the Cython bridge (cimported by _core.pyx).

One block per C header, so each concern's declarations change on their own.
Enum constants are declared here and re-exported by _core.pyx, so the C
headers are the one place their values are written."""

from libc.stdint cimport int64_t, uint32_t, uint64_t


cdef extern from "hf_status.h" nogil:
    ctypedef enum hf_status:
        HF_OK
        HF_ERR_SHAPE
        HF_ERR_KIND
        HF_ERR_LABEL
        HF_ERR_NONFINITE
        HF_ERR_RANGE


cdef extern from "hf_blas.h" nogil:
    ctypedef int hf_blas_int
    ctypedef void (*hf_sgemm_fn)(char *, char *, hf_blas_int *, hf_blas_int *, hf_blas_int *,
                                 float *, float *, hf_blas_int *, float *, hf_blas_int *,
                                 float *, float *, hf_blas_int *) noexcept nogil
    ctypedef struct hf_blas:
        hf_sgemm_fn sgemm
    void hf_gemm(const hf_blas *blas, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                 size_t ldc)


cdef extern from "hf_fpenv.h" nogil:
    ctypedef unsigned int hf_fpenv
    hf_fpenv hf_fpenv_enter()
    void hf_fpenv_leave(hf_fpenv saved)


cdef extern from "hf_simd.h" nogil:
    const char *hf_simd_path()


cdef extern from "hf_rows.h" nogil:
    ctypedef struct hf_rows:
        const float *base
        size_t width
        const int64_t *order
        size_t start
    hf_rows hf_rows_plain(const float *base, size_t width)


cdef extern from "hf_check.h" nogil:
    int64_t hf_first_nonfinite_row(const float *a, size_t rows, size_t w)


cdef extern from "hf_shuffle.h" nogil:
    void hf_permutation(int64_t *out, size_t n, uint64_t seed)


cdef extern from "hf_crc32c.h" nogil:
    uint32_t hf_crc32c(uint32_t crc, const void *data, size_t n)


cdef extern from "hf_hook_times.h" nogil:
    ctypedef struct hf_hook_judged:
        int64_t ns
        int64_t count
    int hf_hook_times_record(const int64_t *times, size_t m, size_t n, int64_t *acc, int64_t *least,
                             hf_hook_judged *judged, int judging, int64_t limit_ns)


cdef extern from "hf_events.h" nogil:
    size_t hf_scalar_event_size(int64_t step, size_t summary_size)
    void hf_scalar_event(unsigned char *out, double wall_time, int64_t step,
                         const unsigned char *summary, size_t summary_size,
                         const size_t *value_at, const float *values, size_t n)


cdef extern from "hf_progbar.h" nogil:
    ctypedef struct hf_progbar:
        int verbose
        int dynamic
        int fd
        int64_t target
        int digits
        int width
        double interval
        size_t n_keys
        const char *const *keys
        char *line
        size_t line_cap
        char *out
        size_t out_cap
        size_t out_len
        int error
        int interrupted
        int gave_way
    size_t hf_progbar_line_room(const hf_progbar *b)
    double hf_progbar_clock()
    void hf_progbar_start(hf_progbar *b, double now, int64_t epoch, int64_t epochs)
    int hf_progbar_due(const hf_progbar *b, double now)
    void hf_progbar_update(hf_progbar *b, int64_t current, double now, const double *values,
                           size_t n_values, int finalize)
    void hf_progbar_write_if_due(hf_progbar *b, double now)
    void hf_progbar_run_begin(hf_progbar *b, double now)
    void hf_progbar_batch_done(hf_progbar *b, double now)
    void hf_progbar_run_end(hf_progbar *b, double now)
    int hf_progbar_flush(hf_progbar *b)


cdef extern from "hf_activation.h" nogil:
    enum:
        HF_ACT_LINEAR
        HF_ACT_RELU
        HF_ACT_SIGMOID
        HF_ACT_TANH
        HF_ACT_SOFTMAX
        HF_ACT_ELU
        HF_ACT_SELU
        HF_ACT_GELU
        HF_ACT_SOFTPLUS
        HF_ACT_SOFTSIGN
        HF_ACT_SWISH
        HF_ACT_LEAKY_RELU
        HF_ACT_EXPONENTIAL
        HF_ACT_HARD_SIGMOID
        HF_ACT_COUNT
    int hf_act_valid(int act)
    int hf_act_needs_z(int act)
    float hf_act_default_alpha(int act)
    void hf_act_forward(int act, float alpha, float *z, float *a, size_t n, size_t k,
                        const float *bias)
    void hf_act_backward(int act, float alpha, const float *z, const float *a, const float *da,
                         float *dz, size_t n, size_t k)


cdef extern from "hf_dense.h" nogil:
    hf_status hf_dense_forward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                               const float *b, int act, float alpha, float *z, float *a,
                               size_t n, size_t din, size_t dout)
    hf_status hf_dense_backward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                                const float *z, const float *a, const float *da, float *dz,
                                int act, float alpha, float *dw, float *db, float *dx,
                                int accumulate_dx, size_t n, size_t din, size_t dout)


cdef extern from "hf_dropout.h" nogil:
    enum:
        HF_DROPOUT_BITS
    uint64_t hf_dropout_key(uint64_t seed, int64_t iteration, size_t node)
    void hf_dropout_apply(uint64_t key, uint32_t threshold, float scale, int shared_row,
                          const float *x, size_t ldx, float *mask, float *y, size_t n, size_t k)


cdef extern from "hf_loss.h" nogil:
    enum:
        HF_LOSS_MSE
        HF_LOSS_MAE
        HF_LOSS_BCE
        HF_LOSS_CCE
        HF_LOSS_SCCE
        HF_LOSS_HUBER
        HF_LOSS_LOG_COSH
        HF_LOSS_HINGE
        HF_LOSS_SQUARED_HINGE
        HF_LOSS_CATEGORICAL_HINGE
        HF_LOSS_KLD
        HF_LOSS_POISSON
        HF_LOSS_MAPE
        HF_LOSS_MSLE
        HF_LOSS_COSINE
        HF_LOSS_N_KINDS
        HF_REDUCE_SUM_OVER_BATCH_SIZE
        HF_REDUCE_SUM
    ctypedef struct hf_loss_spec:
        int kind
        int from_logits
        float label_smoothing
        float delta
        int reduction
    int hf_loss_valid(int kind)
    size_t hf_loss_y_width(int kind, size_t k)
    size_t hf_loss_spec_y_width(const hf_loss_spec *s, size_t k)
    hf_status hf_loss_spec_check(const hf_loss_spec *s)
    hf_loss_spec hf_loss_spec_of(int kind)
    hf_status hf_loss_eval(const hf_loss_spec *s, const hf_rows *y, const hf_rows *sw,
                           const float *pred, size_t n, size_t k, float *grad, double *value)
    hf_status hf_loss_per_sample(const hf_loss_spec *s, const hf_rows *y, const float *pred,
                                 size_t n, size_t k, float *out)


cdef extern from "hf_metric.h" nogil:
    enum:
        HF_METRIC_MSE
        HF_METRIC_MAE
        HF_METRIC_BCE
        HF_METRIC_CCE
        HF_METRIC_SCCE
        HF_METRIC_BINARY_ACCURACY
        HF_METRIC_CATEGORICAL_ACCURACY
        HF_METRIC_SPARSE_CATEGORICAL_ACCURACY
        HF_METRIC_TOP_K_CATEGORICAL_ACCURACY
        HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY
        HF_METRIC_ROOT_MEAN_SQUARED_ERROR
        HF_METRIC_LOSS
        HF_METRIC_COSINE_SIMILARITY
        HF_METRIC_TRUE_POSITIVES
        HF_METRIC_FALSE_POSITIVES
        HF_METRIC_TRUE_NEGATIVES
        HF_METRIC_FALSE_NEGATIVES
        HF_METRIC_PRECISION
        HF_METRIC_RECALL
        HF_METRIC_AUC
        HF_METRIC_PRECISION_AT_RECALL
        HF_METRIC_RECALL_AT_PRECISION
        HF_METRIC_R2_SCORE
        HF_METRIC_N_KINDS
    ctypedef struct hf_metric_spec:
        int kind
        int weighted
        int from_logits
        float label_smoothing
        float threshold
        int top_k
        int class_id
        size_t n_thresholds
        const float *thresholds
        int curve, summation
        float target
        int loss_kind
        float delta
        int aggregation
        int num_regressors
    int hf_metric_valid(int kind)
    size_t hf_metric_y_width(int kind, size_t k)
    size_t hf_metric_spec_y_width(const hf_metric_spec *m, size_t k)
    hf_metric_spec hf_metric_spec_of(int kind)
    size_t hf_metric_state_floats(const hf_metric_spec *m, size_t k)
    hf_status hf_metric_spec_check(const hf_metric_spec *m, size_t k)
    hf_status hf_metric_accumulate(const hf_metric_spec *m, const hf_rows *y, const hf_rows *sw,
                                   const float *pred, size_t n, size_t k, float *state)
    double hf_metric_result(const hf_metric_spec *m, const float *state, size_t k)


cdef extern from "hf_optimizer.h" nogil:
    enum:
        HF_OPT_SGD
        HF_OPT_RMSPROP
        HF_OPT_ADAM
        HF_OPT_ADAGRAD
        HF_OPT_ADAMAX
        HF_OPT_ADADELTA
        HF_OPT_NADAM
        HF_OPT_FTRL
        HF_OPT_LION
        HF_OPT_N_KINDS
        HF_OPT_MAX_SLOTS
    ctypedef struct hf_opt_spec:
        int kind
        float beta_1, beta_2, epsilon
        float rho, momentum
        int centered, nesterov, amsgrad
        float initial_accumulator_value
        float learning_rate_power, l1, l2, l2_shrinkage, beta
        float clipnorm, clipvalue, global_clipnorm, weight_decay
        int use_ema
        float ema_momentum
        int ema_overwrite_frequency
    ctypedef struct hf_var:
        size_t offset, size
    int hf_opt_valid(int kind)
    size_t hf_opt_kind_slots(int kind)
    size_t hf_opt_n_slots(const hf_opt_spec *o)
    hf_opt_spec hf_opt_spec_of(int kind)
    hf_status hf_opt_spec_check(const hf_opt_spec *o)
    hf_status hf_opt_apply(const hf_opt_spec *o, float *params, float *grads, float *const *slots,
                           size_t n_params, const hf_var *vars, size_t n_vars, float lr,
                           int64_t iteration)


cdef extern from "hf_network.h" nogil:
    enum:
        HF_NODE_INPUT
        HF_NODE_DENSE
        HF_NODE_ACTIVATION
        HF_NODE_DROPOUT
        HF_NODE_BATCHNORM
        HF_NODE_NORMALIZATION
        HF_NODE_ADD
        HF_NODE_CONCATENATE
        HF_NODE_COUNT

    ctypedef struct hf_node:
        int kind
        size_t width
        size_t n_inputs
        const size_t *inputs
        const unsigned char *accumulate
        size_t offset
        int act
        float alpha
        int64_t w_off, b_off, s_off
        int trainable
        float kernel_l1, kernel_l2, bias_l1, bias_l2, activity_l1, activity_l2
        uint64_t seed
        uint32_t drop_threshold
        float drop_scale
        int shared_row
        float momentum, epsilon
        int live, backward
        int64_t val, aux, grad, stats

    ctypedef struct hf_network:
        size_t n_nodes
        const hf_node *nodes
        size_t output
        size_t x_width
        size_t row_floats, fixed_floats
        int dense1
        size_t n_params
        float *params
        float *grads
        float *slots[5]
        hf_opt_spec opt
        const hf_var *vars
        size_t n_vars
        hf_loss_spec loss
        size_t n_metrics
        const hf_metric_spec *metrics
        float *mstate
        int64_t iterations
        const hf_blas *blas

    ctypedef struct hf_data:
        const float *x
        const float *y
        const float *sw
        size_t n_rows, x_width, y_width
        const int64_t *order
        size_t n_positions

    size_t hf_network_workspace(const hf_network *net, size_t batch)
    size_t hf_network_output_width(const hf_network *net)
    void hf_network_results(const hf_network *net, double *out)
    const float *hf_network_batch_output(const hf_network *net, const float *ws, size_t cap)
    hf_status hf_train_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                             size_t batch, float lr, float *ws)
    hf_status hf_train_run(hf_network *net, const hf_data *data, size_t start, size_t count,
                           size_t batch, float lr, const float *rates, int stop_on_nonfinite,
                           float *ws, size_t *ran, int *stopped)
    hf_status hf_test_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                            size_t batch, float *ws)
    hf_status hf_forward_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                               size_t batch, int training, int64_t iteration, float *out,
                               float *ws)
    size_t hf_reduce_floats(const hf_network *net)
    int hf_network_data_parallel_ok(const hf_network *net)
    hf_status hf_grad_step(hf_network *net, const hf_data *data, size_t start, size_t n,
                           size_t row0,
                           size_t global_rows, float *mdelta, float *ws)
    hf_status hf_update_step(hf_network *net, const float *mdelta, float lr)


cdef extern from "hf_cpu_share.h" nogil:
    ctypedef struct hf_cpu_reading:
        int64_t wall_ns
        int64_t own_ns
        double busy_s
        int n_cpus
        int64_t wait_us
    int hf_cpu_read(hf_cpu_reading *r)
    double hf_cpu_others(const hf_cpu_reading *a, const hf_cpu_reading *b)
    double hf_cpu_waiting(const hf_cpu_reading *a, const hf_cpu_reading *b)
    size_t hf_cpu_threads_worth(double others, double waiting, int n_cpus, size_t threads,
                                size_t current)


cdef extern from "hf_pool.h" nogil:
    enum:
        HF_POOL_MAX_THREADS
    ctypedef void (*hf_task_fn)(void *ctx, size_t task) noexcept nogil
    hf_status hf_pool_resize(size_t n)
    size_t hf_pool_size()
    void hf_pool_share(int on)
    int hf_pool_sharing()
    size_t hf_pool_active()
    void hf_pool_run(size_t n_tasks, hf_task_fn fn, void *ctx)
    size_t hf_gemm_blocks(size_t m, size_t n, size_t k, size_t *block)


cdef extern from "hf_dense1.h" nogil:
    enum:
        HF_DENSE1_PIPELINED
        HF_DENSE1_FUSED
    size_t hf_dense1_blocks(size_t n, size_t *rows)
    void hf_dense1_set_variant(int variant)
    int hf_dense1_variant()
    int hf_dense1_calibrate()


cdef extern from "hf_floor.h" nogil:
    double hf_read_floats(const float *x, size_t count)


# The spec fillers of _core_numerics.pxi (NUMERICS_SPEC.md), for the other .pxi parts.
cdef int _fill_loss_spec(hf_loss_spec *out, dict spec) except -1
cdef int _fill_metric_spec(hf_metric_spec *out, dict spec, object keepalive_list) except -1
cdef int _fill_opt_spec(hf_opt_spec *out, dict spec) except -1
