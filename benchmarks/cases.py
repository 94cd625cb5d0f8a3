"""The benchmark cases, one table shared by hookfit and every peer.

Standard library only: peers read it from their own interpreters. A case says
*what* is timed; each implementation (``impl_*.py``, ``peers/*.py``) says how
to do it with its own API, or declines it (hand-written loops have no
callbacks).

Models (issue 5):
- ``tutorial``: Dense(1) on 784 inputs, MSE loss + MAE metric, RMSprop(lr 0.1),
  the model of the Keras callback tutorial.
- ``dense1_d{D}``: the same with D inputs (the width sweep).
- ``mlp``: 784→256(relu)→128(relu)→10, MSE on one-hot targets,
  RMSprop(lr 0.001) (lr 0.1 diverges on this model, and NaN/denormal
  arithmetic would distort the timing).

Every run uses the same 1000 rows (``data.py``), shuffled each epoch as Keras's
``fit`` does by default, verbose=0.
"""

from __future__ import annotations

from dataclasses import dataclass

ROWS = 1000  # the tutorial's slice of MNIST
TINY_ROWS = 8  # the "fixed cost of one call" input


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    kind: str  # "fit" | "evaluate" | "predict"
    model: str = "tutorial"
    batch: int = 128
    rows: int = ROWS
    callbacks_all: int = 0  # callbacks overriding all six batch hooks with `pass`
    callbacks_none: int = 0  # callbacks overriding no hook at all
    validation_split: float = 0.0
    verbose: int = 0  # 1: the progress bar
    stdout: str = ""  # where verbose output goes: "pty" (a terminal), "pipe" or "null" (nowhere)
    # "checkpoint_tensorboard_nan": built-ins with batch schedules;
    # "first_batch_hook": one callback whose end hook runs at each epoch's
    # first batch only (the boundary Keras's progress bar needs, nothing drawn)
    builtins: str = ""
    # "exponential_decay": the optimizer's learning rate is an ExponentialDecay
    # schedule (a rate per step) instead of a constant
    lr_schedule: str = ""
    per: str = "step"  # "step" (per train/test/predict step) or "call"
    about: str = ""

    @property
    def keras_only(self) -> bool:
        """Needs what only a Keras-style fit has (callbacks, the bar, a
        schedule object): hand-written loops and the bare core decline it."""
        return bool(self.callbacks_all or self.callbacks_none or self.verbose or self.builtins
                    or self.lr_schedule)

    @property
    def fixed(self) -> str | None:
        """The tiny-input case whose per-call time is subtracted from a call
        of this case, so that "per step" excludes the fixed cost of a call:
        per step = (call time - tiny call time) / steps in the call."""
        if self.per == "call":
            return None
        return f"tiny_{self.kind}_mlp" if self.model == "mlp" else f"fixed_{self.kind}"

    @property
    def input_dim(self) -> int:
        if self.model.startswith("dense1_d"):
            return int(self.model[len("dense1_d") :])
        return 784

    @property
    def train_rows(self) -> int:
        # Keras's validation_split takes the *last* fraction as validation.
        return self.rows - int(self.rows * self.validation_split)

    @property
    def steps(self) -> int:
        """Steps per fit epoch (train steps only) or per evaluate/predict call."""
        return -(-self.train_rows // self.batch)


def _build() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    for b in (32, 128, 1024):
        add(Case(f"fit_b{b}", "tutorial", "fit", batch=b, about=f"fit, batch {b}"))
    for kind in ("evaluate", "predict"):
        for b in (32, 128, 1024):
            add(
                Case(
                    f"{kind}_b{b}", "tutorial", kind, batch=b,
                    about=f"{kind}, batch {b}",
                )
            )
    for kind in ("fit", "evaluate", "predict"):
        add(Case(f"{kind}_mlp", "mlp", kind, model="mlp", about=f"MLP {kind}, batch 128"))
        add(
            Case(
                f"tiny_{kind}_mlp", "mlp", kind, model="mlp", rows=TINY_ROWS, per="call",
                about=f"MLP {kind} call on {TINY_ROWS} rows (fixed cost of the MLP cases)",
            )
        )
    for n in (1, 2, 10, 100):
        add(
            Case(
                f"fit_cb{n}_all", "callbacks", "fit", callbacks_all=n,
                about=f"fit b128 + {n} callback(s) overriding all batch hooks",
            )
        )
    for n in (1, 100):
        add(
            Case(
                f"fit_cb{n}_none", "callbacks", "fit", callbacks_none=n,
                about=f"fit b128 + {n} callback(s) overriding no hook",
            )
        )
    for kind in ("evaluate", "predict"):
        add(
            Case(
                f"{kind}_cb1_all", "callbacks", kind, callbacks_all=1,
                about=f"{kind} b128 + 1 callback overriding all batch hooks",
            )
        )
    for stdout in ("pty", "pipe"):
        add(
            Case(
                f"fit_verbose1_{stdout}", "schedule", "fit", verbose=1, stdout=stdout,
                about=f"fit b128, verbose=1 (progress bar) writing to a {'terminal' if stdout == 'pty' else 'pipe'}",
            )
        )
    # What the bar's cost is made of: its work with no I/O, and the boundary
    # at each epoch's first batch that Keras's draw rule needs.
    add(
        Case(
            "fit_verbose1_null", "schedule", "fit", verbose=1, stdout="null",
            about="fit b128, verbose=1 (progress bar) writing nowhere (the bar's work, no I/O)",
        )
    )
    add(
        Case(
            "fit_first_batch_hook", "schedule", "fit", builtins="first_batch_hook",
            about="fit b128 + 1 callback called at each epoch's first batch only (the bar's boundary)",
        )
    )
    add(
        Case(
            "fit_sched_builtins", "schedule", "fit", builtins="checkpoint_tensorboard_nan",
            about="fit b128 + ModelCheckpoint(save_freq=50) + TensorBoard(update_freq=50) + TerminateOnNaN()",
        )
    )
    add(
        Case(
            "fit_lr_schedule", "schedule", "fit", lr_schedule="exponential_decay",
            about="fit b128, the learning rate an ExponentialDecay schedule (a rate per step)",
        )
    )
    for kind in ("fit", "evaluate", "predict"):
        add(
            Case(
                f"fixed_{kind}", "fixed", kind, rows=TINY_ROWS, per="call",
                about=f"one {kind} call on {TINY_ROWS} rows",
            )
        )
    add(
        Case(
            "fit_val", "validation", "fit", validation_split=0.5,
            about="fit b128, validation_split=0.5, per train step",
        )
    )
    for b in (64, 256, 512):
        add(Case(f"fit_b{b}", "scaling", "fit", batch=b, about=f"fit, batch {b} (sweep)"))
    for d in (196, 392, 1568):
        add(
            Case(
                f"fit_d{d}", "scaling", "fit", model=f"dense1_d{d}",
                about=f"fit Dense(1) on {d} inputs, batch 128 (sweep)",
            )
        )
    return cases


CASES: list[Case] = _build()
BY_NAME: dict[str, Case] = {c.name: c for c in CASES}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in CASES))


def select(spec: str | None) -> list[Case]:
    """Cases named by a comma list of case or group names (None = all).

    A selected per-step case pulls in its fixed-cost case, and a callback
    case the no-callback case (the N = 0 point of the slope).
    """
    if not spec:
        return list(CASES)
    wanted: set[str] = set()
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if token in BY_NAME:
            wanted.add(token)
        elif token in GROUPS:
            wanted.update(c.name for c in CASES if c.group == token)
        else:
            raise ValueError(
                f"unknown case or group {token!r}; choose from groups {', '.join(GROUPS)} "
                f"or cases {', '.join(BY_NAME)}"
            )
    for name in list(wanted):
        case = BY_NAME[name]
        if case.keras_only:  # (measured against the plain step)
            wanted.add(f"{case.kind}_b128")
        if case.callbacks_all == 2:  # measured against one callback
            wanted.add(f"{case.kind}_cb1_all")
    for name in list(wanted):
        if BY_NAME[name].fixed:
            wanted.add(BY_NAME[name].fixed)
    return [c for c in CASES if c.name in wanted]
