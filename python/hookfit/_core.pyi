"""Type stub and contract of ``hookfit._core``, the only bridge to the C kernels.

Design
------
a) ``csrc/`` is plain C11: kernels over caller-owned float32 buffers that return
   a status code. No Python.h, no allocation on the per-batch path.
b) ``_core.pyx`` checks arguments with the GIL held, releases it for the whole
   batch (or the whole run of batches) and maps a non-zero status to exactly one
   exception type per status.
c) ``_reference.py`` is a pure-NumPy twin of everything here, with the same
   names and signatures; it is the test oracle and, with the environment
   variable ``HOOKFIT_IMPLEMENTATION=reference``, a debug fallback.

Conventions: float32, row-major (C-contiguous), batch rows addressed inside
the full arrays by position, through an optional order (permutation) array.
Enum values below are the integers the C headers use.

Code paths: a Network of one Dense layer with one unit (the tutorial's
``Dense(1)``) trains through a fused kernel that reads each batch row once
(forward, loss gradient and weight gradient in one pass, rows in pairs);
every other stack goes through sgemm (scipy's OpenBLAS, handed to C as a
function pointer). Both give the same results as ``_reference`` at float32
tolerances. Denormals are flushed to zero inside every call (FTZ/DAZ) and
the caller's floating-point mode is restored on return.

Errors: every exception derives from ``CoreError`` (``hookfit.errors``) and
from ValueError (ShapeError, NonFiniteError, LabelError, PositionError,
KindError), TypeError (DtypeError), MemoryError (WorkspaceError) or
RuntimeError (BusyError: a Network used by two threads at once, or
``set_order`` while a step runs on that Dataset; StateError: an object made by
``__new__`` without ``__init__``). Messages name the argument.
"""

from typing import Any, Callable, Iterable, Sequence

import numpy as np

# Activations (csrc/hf_activation.h).
ACT_LINEAR: int  # 0
ACT_RELU: int  # 1
ACT_SIGMOID: int  # 2
ACT_TANH: int  # 3
ACT_SOFTMAX: int  # 4 (row-wise)
# The activations below follow tf-keras 2.21 where Keras 3 differs (noted).
ACT_ELU: int  # 5 z > 0 ? z : alpha (e^z - 1); alpha 1.0 unless given
ACT_SELU: int  # 6
ACT_GELU: int  # 7 exact erf form (approximate=False, the default of both Kerases)
ACT_SOFTPLUS: int  # 8
ACT_SOFTSIGN: int  # 9
ACT_SWISH: int  # 10 z * sigmoid(z)
ACT_SILU: int  # == ACT_SWISH
ACT_LEAKY_RELU: int  # 11 z > 0 ? z : alpha z; alpha 0.2 unless given (LeakyReLU layer: 0.3)
ACT_EXPONENTIAL: int  # 12
ACT_HARD_SIGMOID: int  # 13 tf-keras clip(0.2 z + 0.5, 0, 1) (Keras 3: relu6(z + 3) / 6)
N_ACTIVATIONS: int  # 14

# Node kinds of Network.from_graph (csrc/hf_network.h).
NODE_INPUT: int  # 0
NODE_DENSE: int  # 1
NODE_ACTIVATION: int  # 2
NODE_DROPOUT: int  # 3
NODE_BATCHNORM: int  # 4
NODE_NORMALIZATION: int  # 5
NODE_ADD: int  # 6
NODE_CONCATENATE: int  # 7
N_NODE_KINDS: int  # 8

# Losses (csrc/hf_loss.h): per-sample mean over the last axis, then Keras's
# "sum_over_batch_size" reduction: sum_i w_i * l_i / N.
LOSS_MSE: int  # 0
LOSS_MAE: int  # 1
LOSS_BCE: int  # 2 binary crossentropy on probabilities, eps 1e-7
LOSS_CCE: int  # 3 categorical crossentropy on probabilities, eps 1e-7
LOSS_SCCE: int  # 4 sparse categorical crossentropy; y holds class ids as float32
LOSS_HUBER: int  # 5 (delta)
LOSS_LOG_COSH: int  # 6
LOSS_HINGE: int  # 7 ({0, 1} labels read as {-1, 1})
LOSS_SQUARED_HINGE: int  # 8
LOSS_CATEGORICAL_HINGE: int  # 9
LOSS_KLD: int  # 10
LOSS_POISSON: int  # 11
LOSS_MAPE: int  # 12
LOSS_MSLE: int  # 13
LOSS_COSINE: int  # 14 (negative cosine similarity)
N_LOSS_KINDS: int

# Metrics (csrc/hf_metric.h): running weighted sum and count (float32), so
# the running mean is read, not recomputed.
METRIC_MSE: int  # 0
METRIC_MAE: int  # 1
METRIC_BCE: int  # 2
METRIC_CCE: int  # 3
METRIC_SCCE: int  # 4
METRIC_BINARY_ACCURACY: int  # 5 (threshold 0.5)
METRIC_CATEGORICAL_ACCURACY: int  # 6
METRIC_SPARSE_CATEGORICAL_ACCURACY: int  # 7
METRIC_TOP_K_CATEGORICAL_ACCURACY: int  # 8 (top_k)
METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY: int  # 9
METRIC_ROOT_MEAN_SQUARED_ERROR: int  # 10
METRIC_LOSS: int  # 11 running mean of loss_kind (any LOSS_*)
METRIC_COSINE_SIMILARITY: int  # 12
METRIC_TRUE_POSITIVES: int  # 13..16 TP, FP, TN, FN: state [tp, fp, tn, fn] x thresholds
METRIC_FALSE_POSITIVES: int
METRIC_TRUE_NEGATIVES: int
METRIC_FALSE_NEGATIVES: int
METRIC_PRECISION: int  # 17
METRIC_RECALL: int  # 18
METRIC_AUC: int  # 19 (curve 0 ROC / 1 PR; summation 0 interpolation, 1 minoring, 2 majoring)
METRIC_PRECISION_AT_RECALL: int  # 20 (target)
METRIC_RECALL_AT_PRECISION: int  # 21 (target)
METRIC_R2_SCORE: int  # 22 (aggregation, num_regressors); state 4k + 1
N_METRIC_KINDS: int

# Optimizers (csrc/hf_optimizer.h), Keras 2 formulas and defaults.
OPT_SGD: int  # 0: slots [m]            (m only used when momentum > 0; 1 slot)
OPT_RMSPROP: int  # 1: slots [v, m, a]  (m: momentum > 0, a: centered)
OPT_ADAM: int  # 2: slots [m, v, vhat]  (vhat: amsgrad; AdamW = Adam + weight_decay)
OPT_ADAGRAD: int  # 3: [accumulator]
OPT_ADAMAX: int  # 4: [m, u]
OPT_ADADELTA: int  # 5: [accumulated_grad, accumulated_delta_var]
OPT_NADAM: int  # 6: [m, v, u_product (first float)]
OPT_FTRL: int  # 7: [accumulator, linear]
OPT_LION: int  # 8: [m]
# Optimizer code -> number of slot buffers it uses (from the C headers).
_N_SLOTS: dict[int, int]
# (use_ema adds one slot, the averages, after the kind's own.)

# Loss reductions (csrc/hf_loss.h); spec dicts may also say "sum_over_batch_size"/"sum".
REDUCE_SUM_OVER_BATCH_SIZE: int  # 0
REDUCE_SUM: int  # 1

# Spec dicts (NUMERICS_SPEC.md) describe a loss, metric or optimizer with its
# settings; missing keys take Keras's defaults, unknown keys are refused:
#   loss   {"kind": LOSS_*, "from_logits", "label_smoothing", "delta", "reduction"}
#   metric {"kind": METRIC_*, "name", "weighted", "from_logits", "label_smoothing",
#           "threshold", "top_k", "class_id", "thresholds", "curve", "summation", "target"}
#   opt    {"kind": OPT_*, "beta_1", "beta_2", "epsilon", "rho", "momentum", "centered",
#           "nesterov", "amsgrad", "clipnorm", "clipvalue", "global_clipnorm",
#           "weight_decay", "use_ema", "ema_momentum", "ema_overwrite_frequency"}

class CoreError(Exception):
    """Base of every error raised by the core (always also a ValueError/TypeError/...)."""

class Dataset:
    """Arrays bound for a run of batches; checked and converted once.

    ``x``: 2-D (n, d); ``y``: 2-D (n, k) or None; ``sample_weight``: 1-D (n,)
    or None. Any real dtype, any strides, read-only allowed: each is converted
    once here to a C-contiguous float32 array that this object keeps alive.
    Raises ValueError naming the argument for a wrong rank, a row-count
    mismatch, an empty x, or a NaN/inf value (with the first bad row).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        *,
        check_finite: bool = True,
    ) -> None:
        """``check_finite=False`` skips the NaN/inf scan (one read of each
        array); evaluate and predict use it, training never does."""
    @property
    def n_rows(self) -> int: ...
    @property
    def n_positions(self) -> int:
        """len(order) when an order is set, else n_rows."""
    @property
    def x(self) -> np.ndarray: ...
    @property
    def y(self) -> np.ndarray | None: ...
    @property
    def sample_weight(self) -> np.ndarray | None: ...
    @property
    def order(self) -> np.ndarray | None:
        """The installed int64 order (a read-only view of the Dataset's own
        copy), or None for the identity."""
    def shuffle(self, seed: int) -> None:
        """Install a random order of all rows, made natively from ``seed``
        (an integer in [0, 2**64)): Fisher-Yates over SplitMix64 draws,
        the same on every platform and in the NumPy twin."""
    def set_order(self, order: np.ndarray | None) -> None:
        """Rows are visited as x[order[p]] for position p; None = identity.

        ``order``: non-empty 1-D integer array with values in [0, n_rows)
        (checked once, then copied; rows may repeat). The x/y/sample_weight
        properties are read-only float32 views (no copy when the input was
        already C-contiguous float32).
        """

class Network:
    """A network of nodes in topological order, each reading its inputs'
    buffers, with its parameters, optimizer slots, metric accumulators and
    workspace. ``Network(input_dim, units, activations, use_bias)`` is the
    Sequential chain Input -> Dense -> ... and takes exactly the code paths
    it took before graphs (the fused Dense(1) kernel, sgemm per layer).

    All parameters live in one flat float32 array ``params``; each weight
    (kernel (in, out), bias (out,), BN gamma ...) is a view into it, so the
    optimizer update is one pass over one buffer (per contiguous run of
    trainable weights). Every method raises StateError on an object made by
    ``__new__`` alone.
    """

    def __init__(
        self,
        input_dim: int,
        units: Sequence[int],
        activations: Sequence[int],
        use_bias: Sequence[bool],
    ) -> None: ...
    @classmethod
    def from_graph(cls, x_width: int, nodes: Sequence[dict], output: int) -> "Network":
        """A network over ONE float32 matrix x of width ``x_width`` (several
        model inputs hstacked). ``nodes``: dicts in topological order (every
        input index names an earlier node); ``output``: the index of the
        node whose value is the model output. Keys (all required, plus an
        optional "name" used in error messages):

          {"kind": NODE_INPUT, "offset": int, "width": int}   columns of x
          {"kind": NODE_DENSE, "inputs": [i], "units": int, "activation": ACT_*,
           "use_bias": bool, "trainable": bool, "kernel_l1": float, "kernel_l2": float,
           "bias_l1": float, "bias_l2": float, "activity_l1": float, "activity_l2": float}
          {"kind": NODE_ACTIVATION, "inputs": [i], "activation": ACT_*}
          {"kind": NODE_DROPOUT, "inputs": [i], "rate": float in [0, 1), "seed": int in
           [0, 2**64), "noise_shape_rows": bool}   (True: noise_shape (1, width))
          {"kind": NODE_BATCHNORM, "inputs": [i], "momentum": float, "epsilon": float,
           "center": bool, "scale": bool, "trainable": bool}
          {"kind": NODE_NORMALIZATION, "inputs": [i], "epsilon": float}
          {"kind": NODE_ADD, "inputs": [i, j, ...]}          (one width)
          {"kind": NODE_CONCATENATE, "inputs": [i, j, ...]}  (feature axis)

        Dense and Activation nodes take an optional "alpha": the negative
        slope of leaky_relu (default 0.2, >= 0) or elu's alpha (default 1.0).

        Semantics (tf-keras 2.21): regularizer penalties l1 sum|w| + l2 sum w^2
        are added to the loss value (logged) and the gradients; the activity
        penalty is on the Dense output, divided by the batch rows; a frozen
        Dense's weight penalty still counts in the loss (no gradient). Dropout
        is inverted (x / (1 - rate) where kept) in training only, its mask a
        pure function of (seed, iterations, node index, row, column): see
        ``dropout_mask``. BatchNormalization uses the batch mean and biased
        variance in training and moves moving = moving - (moving - batch) *
        (1 - momentum) once per training batch; test/predict use the moving
        statistics; trainable=False runs it in inference mode always.
        Normalization: (x - mean) / max(sqrt(variance), epsilon). Weights
        start at zero, except BN gamma and moving variance and Normalization
        variance (ones). Raises ShapeError/KindError/DtypeError naming the
        node and key for a graph it refuses."""
    @property
    def n_layers(self) -> int:
        """Dense nodes (the layers of a chain)."""
    @property
    def n_nodes(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def input_dim(self) -> int: ...
    @property
    def output_dim(self) -> int: ...
    @property
    def params(self) -> np.ndarray:
        """The flat float32 parameter buffer (a view, writable)."""
    def layer_weights(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Views (kernel (in, out), bias (out,) or None) of the i-th Dense node."""
    def node_weights(self, i: int) -> list[np.ndarray]:
        """Writable views of node i's weights, Keras's order: dense [kernel,
        bias] (no bias when use_bias=False); batchnorm [gamma, beta,
        moving_mean, moving_variance] (gamma absent when scale=False, beta
        when center=False); normalization [mean, variance]; others []."""
    def variables(self) -> list[tuple[int, str, int, int, bool]]:
        """(node index, weight name, offset in params, size, trainable) of
        every weight array, in node order. The optimizer updates only the
        trainable ones (their slots elsewhere stay zero)."""
    def trainable_mask(self) -> np.ndarray:
        """bool (n_params,): True where the optimizer updates the parameter."""
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The output for x (n, input_dim) as a new float32 array (Keras's
        eager model(x)). training=True: dropout with a fresh mask per call and
        batch statistics, which also move BatchNormalization's moving
        statistics (as a Keras call with training=True does)."""
    def configure(self, loss: int | dict, metrics: Sequence[int] | Sequence[dict],
                  optimizer: int | dict, **hyper) -> None:
        """configure(loss_spec, metric_specs, opt_spec) with spec dicts, or the
        older configure(loss_code, metric_codes, opt_code, rho=..., ...).
        Zeroes the optimizer slots, the iteration counter and the metric
        accumulators; a refused call changes nothing."""
    iterations: int
    """Optimizer steps applied so far (Adam's bias correction uses it)."""
    def optimizer_slots(self) -> list[np.ndarray]:
        """Views of the slot buffers, each of length n_params (the unused
        ones included, zero), in the order given for the optimizer kind:
        1 for SGD, 3 for RMSprop and Adam."""
    def reset_metrics(self) -> None: ...
    def metric_results(self) -> list[float]:
        """Running means [loss, metric_0, ...] as Python floats: the float32
        quotient total / count (0.0 when nothing was accumulated, as Keras's
        divide-no-nan)."""
    def metric_state(self) -> np.ndarray:
        """A copy of the whole metric state, float32, 1-D: the loss tracker
        (total, count), then each metric's block (metric_state_floats)."""
    def set_metric_state(self, state: np.ndarray) -> None: ...
    def train_batch(self, data: Dataset, start: int, count: int, lr: float) -> int:
        """One step on rows at positions [start, start + count): forward,
        loss, backward, optimizer update (iterations += 1), metric
        accumulation (the loss is computed with the weights before the
        update), all with the GIL released. Returns 1."""
    def train_batches(
        self,
        data: Dataset,
        start: int,
        count: int,
        batch_size: int,
        lr: float | np.ndarray,
        *,
        stop_on_nonfinite: bool = False,
        bar: NativeProgbar | None = None,
    ) -> int:
        """ceil(count / batch_size) consecutive steps over positions
        [start, start + count), the last one partial, with the GIL released;
        returns how many ran. Same result, bit for bit, as the equivalent
        train_batch calls.

        ``lr``: one rate, or a C-contiguous float32 array with one rate per
        batch (a schedule evaluated ahead). ``stop_on_nonfinite``: stop after
        the first batch whose running mean loss (the logged ``loss``) is NaN
        or infinite; that batch's update is applied and counted (Keras's
        TerminateOnNaN checks at batch end). Between batches, at most every
        5 ms, pending signals are handled: Ctrl-C raises KeyboardInterrupt
        after a whole batch, and ``last_run_batches`` tells how many ran.
        ``bar``: a progress bar for the loss and metrics, updated after
        each batch (current step: start // batch_size + the steps run) and
        drawn when due; one batch per C call then. A failed write of its
        text stops the run after that batch with OSError."""
    def train_batches_hooked(
        self,
        data: Dataset,
        start: int,
        count: int,
        batch_size: int,
        optimizer: Any,
        first_hook: int,
        sample_phase: int,
        sample_mask: int,
        begin: Any,
        end: Any,
        names: tuple[str, ...],
        position: Any,
        model: Any,
    ) -> int:
        """fit's per-batch loop without its Python overhead: one native step
        per batch between the ``begin`` table's callables ``(batch, {})``
        and the ``end`` table's ``(batch, {names[0]: loss, names[1]:
        metric_0, ...})`` (tables: ``LeanHook``, or None); each table's
        callables timed here when ``(batch - sample_phase) & sample_mask ==
        0`` or its ``slow[0]`` is set, into the table's ``pending`` list
        (handed to ``table.record(pending, 0)`` and cleared every 8 timed
        dispatches) and, at the end (also on an error), the untimed count
        added to its ``counts[1]``; the rate read before each step
        (``optimizer._learning_rate`` when a float, else
        ``optimizer._rate_at(iterations)``), ``position.step += 1`` after it;
        stops after the batch that set ``model.stop_training``. Returns the
        ns spent in the steps; ``last_run_batches`` is the steps run, exact
        when a hook raises."""
    def test_batches_hooked(
        self,
        data: Dataset,
        start: int,
        count: int,
        batch_size: int,
        first_hook: int,
        sample_phase: int,
        sample_mask: int,
        begin: Any,
        end: Any,
        names: tuple[str, ...],
    ) -> int:
        """evaluate's per-batch loop, as ``train_batches_hooked``: each test
        step between ``begin(batch, {})`` and ``end(batch, {names[0]: loss,
        names[1]: metric_0, ...})`` (the running values); no rate, no
        position, no stop flag. Returns the steps' time (ns)."""
    def predict_batches_hooked(
        self,
        data: Dataset,
        start: int,
        count: int,
        batch_size: int,
        out: np.ndarray,
        first_hook: int,
        sample_phase: int,
        sample_mask: int,
        begin: Any,
        end: Any,
    ) -> int:
        """predict's per-batch loop, as ``train_batches_hooked``: each
        forward step into ``out`` (as ``predict_batches``) between
        ``begin(batch, {})`` and ``end(batch, {"outputs": the batch's rows of
        out})``. Returns the steps' time (ns)."""
    def test_batch(self, data: Dataset, start: int, count: int) -> int:
        """Forward, loss and metric accumulation on positions [start, start+count)."""
    def test_batches(
        self, data: Dataset, start: int, count: int, batch_size: int, *,
        bar: NativeProgbar | None = None,
    ) -> int:
        """The test steps of ``train_batches``'s batches; ``bar`` as there
        (its values: the running loss and metrics)."""
    def predict_batch(self, data: Dataset, start: int, count: int, out: np.ndarray) -> int:
        """Forward into out[start:start + count] (out: float32 C-contiguous
        (data.n_positions, output_dim), writable)."""
    def predict_batches(
        self, data: Dataset, start: int, count: int, batch_size: int, out: np.ndarray, *,
        bar: NativeProgbar | None = None,
    ) -> int:
        """predict_batch over each batch; ``bar`` as in ``train_batches``
        (one with no values: ``n_train=0``)."""
    def last_batch_output(self) -> np.ndarray:
        """A copy of the output (rows, output_dim) of the last train/test
        batch, read from the workspace (no second forward pass)."""
    @property
    def last_run_nonfinite(self) -> bool:
        """Right after ``train_batches(..., stop_on_nonfinite=True)``: whether
        it stopped on a NaN/inf running loss (also at its last batch)."""
    @property
    def last_run_batches(self) -> int:
        """Batches completed by the last run of any kind, also when it raised."""
    # The data-parallel step (hookfit.distribute): train_batch split in two
    # calls around one in-place sum over ranks of reduce_buffer.
    @property
    def reduce_buffer(self) -> np.ndarray:
        """float32 (n_params + 2 * (1 + n_metrics) + 1,): the gradients, the
        loss and metric deltas, and one float the caller may use (never
        touched here). The gradients live in it once it exists."""
    def use_reduce_buffer(self, buf: np.ndarray) -> np.ndarray:
        """Make buf (writable, C-contiguous, float32, reduce_buffer's length)
        the reduce buffer, the gradients living in it, and return the one it
        replaces: memory a communicator sums with no copy. Its contents are
        never read; configure drops it."""
    def grad_batch(
        self, data: Dataset, start: int, count: int, global_rows: int, row_offset: int = 0
    ) -> int:
        """Forward, loss and backward on positions [start, start + count)
        (count may be 0), rows [row_offset, row_offset + count) of the global
        batch, into reduce_buffer (a mean loss's gradient scaled by count /
        global_rows; Dropout draws those rows of the global batch's masks; a
        trainable BatchNormalization uses this share's batch statistics and
        moves its moving statistics by them); the loss and metric deltas
        after it. Changes no trainable weight, slot, accumulator or
        iteration count. Returns count."""
    def update_batch(self, lr: float) -> None:
        """Add the deltas to the accumulators, apply the optimizer with the
        (summed) gradients, iterations += 1. grad_batch(..., n, n) then
        update_batch(lr) is bitwise train_batch(..., n, lr)."""

# Single kernels, exposed for tests and benchmarks (out-parameter style).
# ``alpha``: the activation's parameter (None: its default, see ACT_*).
def activation_forward(z: np.ndarray, activation: int, alpha: float | None = None) -> np.ndarray:
    """act(z) of a 2-D array as a new float32 array."""
def activation_backward(
    z: np.ndarray, a: np.ndarray, da: np.ndarray, activation: int, alpha: float | None = None
) -> np.ndarray:
    """dL/dz from z, a = act(z) and dL/da."""
def dropout_mask(
    seed: int, iteration: int, node: int, rows: int, width: int, rate: float,
    shared_row: bool = False,
) -> np.ndarray:
    """The (rows, width) float32 mask the dropout node with index ``node``
    draws at step ``iteration``: 1 / (1 - rate) where kept, else 0. Kept
    when the top 24 bits of a hash of (seed, iteration, node, row, column)
    are >= floor(rate * 2**24) (SplitMix64 per row, MurmurHash3's fmix32
    per element: csrc/hf_dropout.h); the twin gives the same bits."""
def dense_forward(
    x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, activation: int, out: np.ndarray,
    alpha: float | None = None,
) -> np.ndarray: ...
def dense_backward(
    x: np.ndarray,
    kernel: np.ndarray,
    a: np.ndarray,
    da: np.ndarray,
    activation: int,
    dkernel: np.ndarray,
    dbias: np.ndarray | None,
    dx: np.ndarray | None,
    z: np.ndarray | None = None,
    alpha: float | None = None,
) -> None:
    """Given the layer input x, its output a = act(x·W + b) and dL/da, write
    dL/dW, dL/db and dL/dx (each optional output may be None). gelu and
    swish also need z = x·W + b."""
def loss_value_and_grad(
    loss: int,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sample_weight: np.ndarray | None,
    grad_out: np.ndarray | None,
) -> float:
    """Batch loss with Keras's reduction; writes dL/dy_pred into grad_out."""
def metric_update(
    metric: int, y_true: np.ndarray, y_pred: np.ndarray, state: np.ndarray
) -> None:
    """Adds this batch to state = float32 [total, count]."""
def optimizer_update(
    optimizer: int,
    params: np.ndarray,
    grads: np.ndarray,
    slots: Sequence[np.ndarray],
    lr: float,
    iteration: int,
    *,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    centered: bool = False,
    nesterov: bool = False,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    amsgrad: bool = False,
) -> None:
    """One in-place update of params from grads; ``iteration`` is the count
    of updates applied before this one (Adam uses t = iteration + 1).
    ``params`` and every slot: writable C-contiguous float32 (n,); ``slots``
    holds 1 array for SGD, 3 for RMSprop and Adam."""
def cpu_features() -> str:
    """The SIMD path chosen at run time for the hot loops: "x86-64-v3
    (avx2+fma)" or "baseline (sse2)" (GCC function clones picked by the
    loader); the reference twin returns "numpy-reference"."""

def loss_eval(spec: dict, y_true: np.ndarray, y_pred: np.ndarray,
              sample_weight: np.ndarray | None, grad_out: np.ndarray | None) -> float:
    """Batch loss with the spec's reduction; dL/dy_pred into grad_out when given."""
def loss_per_sample(spec: dict, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-sample values (float32, (n,)): Keras's reduction "none"."""
def loss_spec_full(spec: dict) -> dict:
    """The loss spec as the core reads it: checked, every setting present."""
def metric_spec_full(spec: dict) -> dict:
    """The metric spec as the core reads it: checked, every setting present."""
def metric_state_floats(spec: dict, k: int) -> int:
    """Length of the metric's float32 state block for outputs of width k."""
def metric_accumulate(spec: dict, y_true: np.ndarray, y_pred: np.ndarray,
                      sample_weight: np.ndarray | None, state: np.ndarray) -> None:
    """Add one batch to the state block (weights apply when spec["weighted"])."""
def metric_result(spec: dict, state: np.ndarray, k: int) -> float:
    """The metric's value from its state block."""
def opt_n_slots(spec: dict) -> int:
    """Slot buffers the optimizer keeps (n_params floats each)."""
def opt_apply(spec: dict, params: np.ndarray, grads: np.ndarray, slots: Sequence[np.ndarray],
              lr: float, iteration: int, vars: Sequence[tuple[int, int]] | None = None) -> None:
    """One step in place over the (offset, size) ranges (None: all of params);
    grads is clipped in place when the spec clips."""
def set_threads(n: int) -> None:
    """Use ``n`` threads in all (the caller included) for the core's
    parallel work; the results do not depend on it."""
def get_threads() -> int:
    """Threads the core's parallel work uses, the caller included."""

def set_pool_share(on: bool) -> None:
    """Sharing mode (the default thread count): each parallel job uses only
    the CPUs other processes leave free; off: every thread."""

def get_pool_share() -> bool:
    """Whether sharing mode is on (off where the CPU counters cannot be read)."""

def pool_active_threads() -> int:
    """Threads the next parallel job would use, the caller included."""

def _cpu_reading() -> tuple[int, int, float, int, int] | None: ...
def _cpu_others(a: tuple[int, int, float, int, int], b: tuple[int, int, float, int, int]) -> float: ...
def _cpu_waiting(a: tuple[int, int, float, int, int], b: tuple[int, int, float, int, int]) -> float: ...
def _cpu_threads_worth(others: float, waiting: float, n_cpus: int, threads: int,
                       current: int) -> int: ...

def set_dense1_kernel(name: str) -> None:
    """Walk Dense(1) training rows with 'fused' or 'pipelined', or 'auto': time both, keep the faster."""

def dense1_kernel() -> str:
    """The Dense(1) training kernel in use: 'fused' or 'pipelined'."""

class NativeProgbar:
    """fit's progress bar (tf-keras's Progbar, steps mode) drawn by the
    core: ``start`` (a new bar after its ``Epoch k/N`` header) and
    ``finish`` (the final line) once per epoch, the draws in between from
    inside ``Network.train_batches(..., bar=...)``. The bytes are those of
    ``hookfit.utils.progbar.Progbar`` with every key shown as given. Text is
    kept and written to ``fd`` in one write once it has waited
    ``interval`` seconds, and at ``flush``. A failed write raises OSError
    (its errno) at the next call; nothing more is written.

    ``keys``: ASCII names, the first ``n_train`` a run's (loss, then
    metrics; none for predict), the rest the validation's. ``out_bytes``:
    the size of the kept-text buffer; the compiled core makes it at least
    room for two draws (the twin takes it as given; the bytes written are
    the same). ValueError for a bad argument."""

    def __init__(
        self,
        fd: int,
        verbose: int,
        target: int,
        keys: tuple[str, ...],
        n_train: int,
        epochs: int,
        dynamic: bool = True,
        width: int = 30,
        interval: float = 0.05,
        out_bytes: int = 65536,
    ) -> None: ...
    def start(self, epoch: int) -> None:
        """A new bar for epoch ``epoch`` (0-based), after its header."""
    def finish(self, train_values: list[float], val_values: list[float] | None = None) -> None:
        """The epoch's final update with its values, shown as given."""
    def batch_end(self, current: int, values: list[float]) -> None:
        """After batch ``current`` (1-based) where a run stopped for Python
        hooks to go first: the draw if one is due, with the running values."""
    def flush(self, after_error: bool = False) -> None:
        """Write the kept text now (a signal during a blocked write runs
        its handler, then the write goes on); ``after_error``: drop it
        instead if a write already gave way to a signal."""
    @property
    def pending_bytes(self) -> int:
        """The bytes made and not written yet."""
    def _start_at(self, now: float, epoch: int) -> None: ...
    def _finish_at(self, now: float, train_values: list[float],
                   val_values: list[float] | None = None) -> None: ...
    def _update_at(self, current: int, now: float, values: list[float],
                   finalize: bool = False) -> None: ...
    def _run_at(self, begin: float, batch_ends: list[float], end: float) -> None: ...

def scalar_events(summary: bytes, value_at: tuple[int, ...], rows: Sequence[Iterable[float]],
                  steps: Sequence[int], walls: Sequence[float]) -> bytes:
    """TFRecord-framed ``tensorflow.Event`` records as one bytes, one per
    row: ``wall_time`` ``walls[k]``, ``step`` ``steps[k]`` (int64), and
    ``summary`` (an encoded ``Event.summary`` field) with the row's values
    stored as float32 at the byte offsets ``value_at``. ValueError for
    lengths that do not match, OverflowError for a finite value beyond
    float32 (as struct's "f"); then nothing is made."""

def record_hook_times(times: list[int], n: int, untimed: int, acc: list[int], least: list[int],
                      counts: list[int], judged: list[int], slow: list[bool],
                      extends: tuple[Callable[[Iterable[int]], None], ...], limit_ns: int) -> None:
    """A hook table's timed dispatches (``LeanHook.record``): ``times``
    holds ``n`` durations (ns) per dispatch, callback by callback (a last
    incomplete dispatch is ignored). Adds each callback's to ``acc[k]``,
    lowers ``least[k]`` to its fastest, passes them to ``extends[k]`` (its
    samples), adds the dispatches to ``counts[0]`` and ``untimed`` to
    ``counts[1]``; unless ``slow[0]``, judges each dispatch's total into
    ``judged`` (ns, count; count -1: the first is not judged) and sets
    ``slow[0]`` once their mean exceeds ``limit_ns``. ValueError when the
    lists do not hold ``n`` callbacks, OverflowError for a value beyond
    int64; then nothing changes."""

def crc32c(data: bytes | bytearray | memoryview) -> int:
    """The CRC-32C (Castagnoli) of ``data`` (bytes or any C-contiguous
    buffer), an int in [0, 2**32): the checksum of TensorBoard's event
    records. TypeError for anything else."""
