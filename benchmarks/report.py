"""From raw samples to the numbers the issue asks for: per-step costs net of
the fixed cost of a call, the Python overhead per batch, the per-callback
slope, the linearity fits, the ratios against peers, and the targets.

``results`` maps an implementation name to its report (see
``peer_protocol.py``): ``{"skipped": None | why, "versions": {...},
"cases": {case: {"samples", "scale", "units", "unit"} | {"declined"} | {"error"}}}``.
Differences and ratios between workloads of one process are taken round by
round (they were sampled in the same rounds), then summarised.
"""

from __future__ import annotations

import os
import statistics

import cases as case_table
from timing import Stat, paired

IN_PROCESS = ("hookfit", "core:batches", "core:batch", "numpy", "floor")
# The L3 floor of a 128-row Dense(1) step on the machine the targets
# were set on (shared/spec/performance-limits.md).
ANCHOR_FLOOR_US = 11.5
PEER_ORDER = ("numpy", "keras2", "keras3-jax", "keras3-torch", "torch")


# ------------------------------------------------------------------ samples


def net_samples(results: dict, impl: str, name: str) -> list[float] | None:
    """Per-round values of a case for one implementation: µs per call, or µs
    per step with the fixed cost of the call removed,
    (call time - tiny call time) / steps."""
    rep = results.get(impl)
    if not rep or rep.get("skipped"):
        return None
    entry = rep["cases"].get(name)
    if not entry or "samples" not in entry or not entry["samples"]:
        return None
    case = case_table.BY_NAME[name]
    fixed = rep["cases"].get(case.fixed or "", {})
    if case.per == "call" or "samples" not in fixed or len(fixed["samples"]) != len(entry["samples"]):
        return list(entry["samples"])
    # A fit-per-step sample is one call over `scale` epochs (one fixed cost);
    # an evaluate/predict sample is `scale` calls (a fixed cost each).
    calls = 1 if entry.get("amortizes", True) else entry["scale"]
    steps = entry["scale"] * entry["units"]
    return paired(entry["samples"], fixed["samples"], lambda s, f: s - f * calls / steps)


def stat(results, impl, name) -> Stat | None:
    values = net_samples(results, impl, name)
    return Stat.of(values) if values else None


def shown_stat(results, impl, name) -> tuple[Stat | None, str]:
    """The per-step value to print, and its mark. When the tiny call is not
    cheaper than the full one (tf-keras: an 8-row evaluate can cost more
    than a 1000-row one), "net of the fixed cost" means nothing: show the
    whole call divided by its steps instead, marked ‡."""
    s = stat(results, impl, name)
    if s is None or s.median > 0 or case_table.BY_NAME[name].per != "step":
        return s, ""
    raw = results[impl]["cases"][name]["samples"]
    return Stat.of(list(raw)), "‡"


def diff(results, impl_a, name_a, impl_b, name_b) -> Stat | None:
    """a - b, round by round (both must come from one process)."""
    a, b = net_samples(results, impl_a, name_a), net_samples(results, impl_b, name_b)
    if not a or not b or len(a) != len(b):
        return None
    return Stat.of(paired(a, b, lambda x, y: x - y))


def ratio(results, impl_a, name_a, impl_b, name_b) -> Stat | None:
    """a / b, round by round (both must come from one process)."""
    a, b = net_samples(results, impl_a, name_a), net_samples(results, impl_b, name_b)
    if not a or not b or len(a) != len(b):
        return None
    return Stat.of(paired(a, b, lambda x, y: x / y if y > 0 else float("inf")))


def line_fit(xs: list[float], ys: list[float]) -> dict | None:
    """Least-squares y = a + b x, with R²."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    slope, intercept = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(ys)
    ss_tot = sum((y - mean) ** 2 for y in ys)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return {"slope": slope, "intercept": intercept, "r2": r2, "points": list(zip(xs, ys))}


# ------------------------------------------------------------------ derived


CALLBACK_POINTS = (("fit_b128", 0), ("fit_cb1_all", 1), ("fit_cb10_all", 10), ("fit_cb100_all", 100))
# Issue 8: batch work on a schedule, each ≤ 1.10× the plain fit step.
SCHEDULE_RATIOS = ("fit_verbose1_pty", "fit_verbose1_pipe", "fit_sched_builtins")
# What fit_verbose1_* is made of (no target): the bar with no I/O, and the
# first-batch boundary alone.
SCHEDULE_PARTS = ("fit_verbose1_null", "fit_first_batch_hook")
# Per-step work that is not a callback's (no target): a learning-rate schedule.
SCHEDULE_OTHER = {"fit_lr_schedule": "fit with an ExponentialDecay learning rate"}
BATCH_SWEEP = ("fit_b32", "fit_b64", "fit_b128", "fit_b256", "fit_b512", "fit_b1024")
WIDTH_SWEEP = ("fit_d196", "fit_d392", "fit_b128", "fit_d1568")


def derive(results: dict) -> dict:
    out: dict = {"overhead": {}, "bridge": {}, "callbacks": {}, "linearity": {}}
    for case in case_table.CASES:
        if case.per != "step":
            continue
        over = diff(results, "hookfit", case.name, "core:batches", case.name)
        if over:
            out["overhead"][case.name] = over.as_dict()
        bridge = diff(results, "core:batch", case.name, "core:batches", case.name)
        if bridge:
            out["bridge"][case.name] = bridge.as_dict()

    for impl in ("hookfit", "keras2", "keras3-jax", "keras3-torch"):
        pts = [(n, stat(results, impl, name)) for name, n in CALLBACK_POINTS]
        pts = [(n, s.median) for n, s in pts if s]
        fit = line_fit([p[0] for p in pts], [p[1] for p in pts])
        if fit:
            out["callbacks"].setdefault(impl, {})["slope_all_hooks"] = fit
        # From 0 to 1 callback the loop leaves the one-native-call-per-epoch
        # path, a step of its own; linearity in N is judged from N = 1 on.
        fit = line_fit([p[0] for p in pts if p[0]], [p[1] for p in pts if p[0]])
        if fit and len(fit["points"]) >= 3:
            out["callbacks"].setdefault(impl, {})["slope_from_1"] = fit
    for name in ("fit_cb1_all", "fit_cb1_none", "fit_cb100_none"):
        d = diff(results, "hookfit", name, "hookfit", "fit_b128")
        if d:
            out["callbacks"].setdefault("hookfit", {})[f"{name} - fit_b128"] = d.as_dict()
    d = diff(results, "hookfit", "fit_cb2_all", "hookfit", "fit_cb1_all")
    if d:
        out["callbacks"].setdefault("hookfit", {})["fit_cb2_all - fit_cb1_all"] = d.as_dict()
    for name in SCHEDULE_RATIOS + SCHEDULE_PARTS + tuple(SCHEDULE_OTHER):
        r = ratio(results, "hookfit", name, "hookfit", "fit_b128")
        if r:
            out.setdefault("schedule", {})[f"{name} / fit_b128"] = r.as_dict()
    for kind in ("evaluate", "predict"):
        d = diff(results, "hookfit", f"{kind}_cb1_all", "hookfit", f"{kind}_b128")
        if d:
            out["callbacks"].setdefault("hookfit", {})[f"{kind}_cb1_all - {kind}_b128"] = d.as_dict()

    for impl in IN_PROCESS:
        for label, sweep in (("batch", BATCH_SWEEP), ("width", WIDTH_SWEEP)):
            xs, ys = [], []
            for name in sweep:
                s = stat(results, impl, name)
                if s:
                    c = case_table.BY_NAME[name]
                    xs.append(c.batch * c.input_dim)
                    ys.append(s.median)
            fit = line_fit(xs, ys)
            if fit:
                out["linearity"].setdefault(impl, {})[label] = fit
    return out


# ------------------------------------------------------------------ targets


def _med(results, impl, name):
    s = stat(results, impl, name)
    return s.median if s else None


def targets(results: dict, derived: dict) -> list[dict]:
    rows = []

    def add(what, measured, limit, ok, note=""):
        rows.append({"target": what, "measured": measured, "limit": limit, "met": ok, "note": note})

    hf = _med(results, "hookfit", "fit_b128")
    if hf is None:
        return [{"target": "hookfit importable", "measured": "no", "limit": "", "met": False,
                 "note": (results.get("hookfit") or {}).get("skipped") or "no hookfit results"}]
    add("tutorial fit step (b128, no batch callback)", f"{hf:.2f} µs", "≤ 15 µs", hf <= 15)
    # The same target, independent of the machine's load: 15 µs was set at
    # 1.30x the 11.5 µs memory floor of the machine the anchors came from.
    for name, limit, what in (("fit_b128", 15.0, "fit"), ("evaluate_b128", 14.0, "evaluate"),
                              ("predict_b128", 14.0, "predict")):
        h, floor = _med(results, "hookfit", name), _med(results, "floor", name)
        if h is not None and floor:
            ratio = limit / ANCHOR_FLOOR_US
            add(f"{what} step / memory floor measured in the same rounds", f"{h / floor:.2f}× "
                f"(floor {floor:.2f} µs)", f"≤ {ratio:.2f}×", h / floor <= ratio,
                f"{limit:g} µs ÷ the anchors' {ANCHOR_FLOOR_US} µs floor")
    for peer, factor in (("keras3-jax", 20), ("numpy", 6)):
        p = _med(results, peer, "fit_b128")
        if p is None:
            reason = (results.get(peer) or {}).get("skipped") or "not run"
            add(f"fit step faster than {peer}", "n/a", f"≥ {factor}×", None, reason)
        else:
            add(f"fit step faster than {peer}", f"{p / hf:.1f}× ({p:.1f} vs {hf:.2f} µs)",
                f"≥ {factor}×", p / hf >= factor)
    cb = derived["callbacks"].get("hookfit", {})
    one = cb.get("fit_cb1_all - fit_b128")
    if one:
        add("one callback overriding all batch hooks adds", f"{one['median']:+.2f} µs/step",
            "≤ 1 µs", one["median"] <= 1.0)
    further = cb.get("fit_cb2_all - fit_cb1_all")
    if further:
        add("each further callback overriding all batch hooks adds", f"{further['median']:+.2f} µs/step "
            f"({further['min']:+.2f}…{further['max']:+.2f})", "≤ 0.7 µs", further["median"] <= 0.7)
    labels = {"fit_verbose1_pty": "fit(verbose=1) to a terminal", "fit_verbose1_pipe": "fit(verbose=1) to a pipe",
              "fit_sched_builtins": "ModelCheckpoint(save_freq=50) + TensorBoard(update_freq=50) + TerminateOnNaN"}
    for name in SCHEDULE_RATIOS:
        r = derived.get("schedule", {}).get(f"{name} / fit_b128")
        if r:
            add(f"{labels[name]} / plain fit step", f"{r['median']:.3f}× ({r['min']:.3f}…{r['max']:.3f})",
                "≤ 1.10×", r["median"] <= 1.10)
    parts = {"fit_verbose1_null": "of which the bar's work, writing nowhere",
             "fit_first_batch_hook": "of which the boundary at each epoch's first batch (no drawing)"}
    for name in SCHEDULE_PARTS:
        r = derived.get("schedule", {}).get(f"{name} / fit_b128")
        if r:
            rows.append({"target": f"fit(verbose=1) {parts[name]} / plain fit step",
                         "measured": f"{r['median']:.3f}× ({r['min']:.3f}…{r['max']:.3f})",
                         "limit": "–", "met": "part", "note": "what the rows above are made of"})
    for name, label in SCHEDULE_OTHER.items():
        r = derived.get("schedule", {}).get(f"{name} / fit_b128")
        if r:
            rows.append({"target": f"{label} / plain fit step",
                         "measured": f"{r['median']:.3f}× ({r['min']:.3f}…{r['max']:.3f})",
                         "limit": "–", "met": "info", "note": "a rate per step, the epoch still one native call"})
    slope = cb.get("slope_all_hooks")
    if slope:
        add("per-callback dispatch cost (slope over 0/1/10/100)", f"{slope['slope']:.3f} µs/step",
            "≤ 1 µs", slope["slope"] <= 1.0, f"R² {slope['r2']:.4f}")
    base = stat(results, "hookfit", "fit_b128")
    for name in ("fit_cb1_none - fit_b128", "fit_cb100_none - fit_b128"):
        d = cb.get(name)
        if d and base:
            # "Not measurable": the round-by-round difference straddles zero,
            # or stays within 2% of a step.
            quiet = d["min"] <= 0.0 <= d["max"] or abs(d["median"]) <= 0.02 * base.median
            n = name.split("_")[1][2:]
            add(f"{n} callback(s) overriding no hook add", f"{d['median']:+.2f} µs/step "
                f"({d['min']:+.2f}…{d['max']:+.2f})", "not measurable", quiet)
    for kind in ("evaluate", "predict"):
        v = _med(results, "hookfit", f"{kind}_b128")
        if v is not None:
            add(f"{kind} step (b128)", f"{v:.2f} µs", "≤ 14 µs", v <= 14)
    for kind in ("fit", "evaluate", "predict"):
        v = _med(results, "hookfit", f"fixed_{kind}")
        if v is not None:
            add(f"fixed cost of one {kind} call (8 rows)", f"{v:.1f} µs", "≤ 100 µs", v <= 100)
    v = _med(results, "hookfit", "fit_mlp")
    if v is not None:
        add("MLP fit step (b128)", f"{v / 1000:.3f} ms", "≤ 1.2 ms", v <= 1200)
    for label in ("batch", "width"):
        fit = derived["linearity"].get("hookfit", {}).get(label)
        if fit:
            add(f"linear in batch × width ({label} sweep)", f"R² {fit['r2']:.4f}, "
                f"{fit['slope'] * 1000:.3f} ns per row·input + {fit['intercept']:.2f} µs",
                "R² ≥ 0.99", fit["r2"] >= 0.99)
    from_1 = cb.get("slope_from_1")
    if from_1:
        add("linear in number of hook callbacks (1, 10, 100)", f"R² {from_1['r2']:.4f}, "
            f"{from_1['slope']:.3f} µs per callback", "R² ≥ 0.99", from_1["r2"] >= 0.99)
    return rows


# ------------------------------------------------------------------ tables


def fmt(s: Stat | dict | None, ms: bool = False, allow_negative: bool = False) -> str:
    if s is None:
        return "–"
    if isinstance(s, dict):
        s = Stat(s["median"], s["min"], s["max"], s["n"])
    k = 1000.0 if ms else 1.0

    def f(v):
        v /= k
        return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"

    # † : the range crosses zero, i.e. the per-step cost is smaller than the
    # call-to-call noise of the fixed cost subtracted from it.
    mark = "†" if s.min < 0 < s.max and not allow_negative else ""
    return f"{f(s.median)} ({f(s.min)}–{f(s.max)}){mark}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _shown_cases(results):
    names = []
    for case in case_table.CASES:
        if case.name.startswith("tiny_"):
            continue
        if any(stat(results, impl, case.name) for impl in results):
            names.append(case)
    return names


def render(results: dict, derived: dict, target_rows: list[dict]) -> str:
    shown = _shown_cases(results)
    parts = []

    parts.append("### hookfit, decomposed (µs per step, or per call for fixed_*; median (min–max))\n")
    rows = []
    for c in shown:
        over = derived["overhead"].get(c.name)
        bridge = derived["bridge"].get(c.name)
        h, floor = stat(results, "hookfit", c.name), stat(results, "floor", c.name)
        rows.append([
            f"`{c.name}`", c.about, fmt(h),
            fmt(stat(results, "core:batches", c.name)), fmt(stat(results, "core:batch", c.name)),
            fmt(over, allow_negative=True), fmt(bridge, allow_negative=True), fmt(floor),
            f"{h.median / floor.median:.2f}" if h and floor else "–",
        ])
    parts.append(_table(
        ["case", "what", "hookfit", "core, 1 call/epoch", "core, 1 call/batch",
         "Python overhead/step (hookfit − core)", "bridge/step", "floor", "hookfit / floor"], rows))

    peers = [p for p in PEER_ORDER if p in results]
    parts.append("\n\n### Peers (same cases, µs per step or per call; ×: peer / hookfit, same run)\n")
    rows = []
    for c in shown:
        if c.group == "scaling" and c.name != "fit_b128":
            continue
        h = stat(results, "hookfit", c.name)
        row = [f"`{c.name}`", fmt(h)]
        for p in peers:
            s, mark = shown_stat(results, p, c.name)
            cell = fmt(s) + mark
            if s and h and h.median > 0 and not mark:
                cell += f" **{s.median / h.median:.1f}×**"
            row.append(cell)
        rows.append(row)
    parts.append(_table(["case", "hookfit"] + peers, rows))
    parts.append("\n\n†: the min–max range crosses zero: this per-step cost is smaller than "
                 "the call-to-call noise of the call's fixed cost that was subtracted from it.  \n"
                 "‡: the 8-row call was not cheaper than the full call, so no fixed cost can be "
                 "separated: whole call ÷ steps, fixed cost included (no ratio).")
    skipped = [(p, results[p]["skipped"]) for p in results if results[p].get("skipped")]
    if skipped:
        parts.append("\n\nSkipped: " + "; ".join(f"**{p}**: {why}" for p, why in skipped))
    declined = sorted({(p, e["declined"]) for p in results for e in results[p]["cases"].values()
                       if "declined" in e})
    if declined:
        parts.append("\n\nNot applicable: " + "; ".join(f"{p}: {why}" for p, why in declined))
    errors: dict[tuple[str, str], list[str]] = {}
    for p in results:
        for n, e in results[p]["cases"].items():
            if "error" in e:
                errors.setdefault((p, e["error"]), []).append(n)
    if errors:
        parts.append("\n\nErrors: " + "; ".join(
            f"{p} ({', '.join(f'`{n}`' for n in names)}): {err}" for (p, err), names in errors.items()))

    parts.append("\n\n### Targets (issue 5)\n")
    verdict = {True: "met", False: "**missed**", None: "not measured", "part": "(a part)", "info": "(no target)"}
    parts.append(_table(["target", "measured", "limit", "verdict", "note"],
                        [[r["target"], r["measured"], r["limit"], verdict[r["met"]], r["note"]]
                         for r in target_rows]))

    parts.append("\n\n### Slopes and linearity\n")
    rows = []
    for impl, d in derived["callbacks"].items():
        for key, label in (("slope_all_hooks", "0/1/10/100"), ("slope_from_1", "1/10/100")):
            fit = d.get(key)
            if not fit:
                continue
            pts = ", ".join(f"{int(x)}: {y:.1f}" for x, y in fit["points"])
            rows.append([impl, f"µs/step vs callbacks overriding all batch hooks ({label})",
                         f"{fit['slope']:.3f} µs per callback", f"{fit['intercept']:.2f} µs",
                         f"{fit['r2']:.4f}", pts])
    for impl, d in derived["linearity"].items():
        for label, fit in d.items():
            pts = ", ".join(f"{int(x)}: {y:.1f}" for x, y in fit["points"])
            rows.append([impl, f"µs/step vs batch × inputs ({label} sweep)",
                         f"{fit['slope'] * 1000:.3f} ns per row·input", f"{fit['intercept']:.2f} µs",
                         f"{fit['r2']:.4f}", pts])
    parts.append(_table(["impl", "fit", "slope", "intercept", "R²", "points (x: µs)"], rows))
    return "\n".join(parts)


def plot(results: dict, derived: dict, path: str) -> str | None:
    """The scaling curves as a PNG; returns why not if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, label in zip(axes[:2], ("batch", "width")):
        for impl, d in derived["linearity"].items():
            fit = d.get(label)
            if fit:
                xs, ys = zip(*fit["points"])
                ax.plot(xs, ys, "o-", label=impl)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("batch × inputs per step")
        ax.set_ylabel("µs per fit step")
        ax.set_title(f"Dense(1) fit step, {label} sweep")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    ax = axes[2]
    for impl, d in derived["callbacks"].items():
        fit = d.get("slope_all_hooks")
        if fit:
            xs, ys = zip(*fit["points"])
            ax.plot(xs, ys, "o-", label=f"{impl} ({fit['slope']:.2f} µs/cb)")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("log")
    ax.set_xlabel("callbacks overriding all batch hooks")
    ax.set_ylabel("µs per fit step (b128)")
    ax.set_title("Callback dispatch")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = f"{path}.tmp"
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return None
