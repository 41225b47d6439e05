"""PNG images of the aggregated curves, for reports: DVC's own plots render only to HTML that needs a CDN.

Matplotlib `Figure` objects are used directly: no pyplot state, no backend switched at import.

Each function takes one or more labelled curves, so a report can overlay champion and challenger.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from retrain.results import FeatureDrift, Tuning

Curves = Mapping[str, pd.DataFrame]


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    return path


def _lines(curves: Curves, x: str, y: str, title: str, path: Path, diagonal: bool) -> Path:
    figure = Figure(figsize=(4.5, 4))
    axes = figure.subplots()
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    for name, frame in curves.items():
        axes.plot(frame[x], frame[y], label=name, linewidth=1.8)
    axes.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="best")
    return _save(figure, path)


def roc(curves: Curves, path: Path) -> Path:
    return _lines(curves, "fpr", "tpr", "ROC curve", path, diagonal=True)


def pr(curves: Curves, path: Path) -> Path:
    return _lines(curves, "recall", "precision", "Precision-recall curve", path, diagonal=False)


def calibration(curves: Curves, path: Path) -> Path:
    return _lines(curves, "predicted", "observed", "Calibration (quantile bins)", path, diagonal=True)


def confusion(matrices: Curves, path: Path) -> Path:
    """One heatmap per model, side by side."""
    figure = Figure(figsize=(4 * len(matrices), 3.6))
    axes_row = figure.subplots(1, len(matrices), squeeze=False)
    for axes, (name, frame) in zip(axes_row[0], matrices.items(), strict=True):
        order = list(dict.fromkeys(frame["actual"]))  # as written: class 0, then class 1
        table = frame.pivot(index="actual", columns="predicted", values="count").loc[order, order]
        counts = table.to_numpy(dtype=int)
        axes.imshow(counts, cmap="Blues")
        axes.set_xticks(range(len(table.columns)), list(table.columns))
        axes.set_yticks(range(len(table.index)), list(table.index))
        for row, col in np.ndindex(counts.shape):
            dark = counts[row, col] > counts.max() / 2
            axes.text(col, row, f"{counts[row, col]:,}", ha="center", va="center", color="white" if dark else "black")
        axes.set(xlabel="predicted", ylabel="actual", title=f"Confusion: {name}")
    return _save(figure, path)


def by_period(frame: pd.DataFrame, metric: str, period: str, path: Path, max_ticks: int = 12) -> Path:
    """The metric per batch period for each model; hollow markers are periods inside the model's training window.
    At most `max_ticks` periods are named on the axis (every k-th, and the last), so years of days stay readable."""
    figure = Figure(figsize=(6, 3.6))
    axes = figure.subplots()
    names = sorted(frame["period"].unique())
    position = {name: index for index, name in enumerate(names)}
    for name, rows in frame.groupby("model", sort=False):
        x = rows["period"].map(position)
        many = len(names) > 3 * max_ticks  # markers only when they can be told apart
        line = axes.plot(x, rows[metric], label=str(name), linewidth=1.5)[0]
        if not many:
            inside = rows["in_sample"].to_numpy(dtype=bool)
            axes.plot(x[~inside], rows[metric][~inside], "o", color=line.get_color())
            axes.plot(x[inside], rows[metric][inside], "o", markerfacecolor="white", color=line.get_color())
    step = -(-len(names) // max_ticks)
    ticks = sorted({*range(len(names) - 1, -1, -step)})
    axes.set_xticks(
        ticks,
        [names[i] for i in ticks],
        rotation=45 if len(ticks) > 6 else 0,
        ha="right" if len(ticks) > 6 else "center",
        fontsize=8,
    )
    axes.set(xlabel=period, ylabel=metric, title=f"{metric} per {period} (hollow: in the training window)")
    axes.legend(loc="best")
    return _save(figure, path)


def drift(features: list[FeatureDrift], path: Path, top: int = 4, max_bins: int = 12) -> Path:
    """Reference against current shares for the `top` features by PSI (largest bins only for many categories)."""
    shown = features[:top]
    figure = Figure(figsize=(4 * len(shown), 3.4))
    for axes, feature in zip(figure.subplots(1, len(shown), squeeze=False)[0], shown, strict=True):
        bins = pd.DataFrame([row.model_dump() for row in feature.bins])
        bins = bins.loc[bins[["reference", "current"]].max(axis=1).nlargest(max_bins).index.sort_values()]
        x = np.arange(len(bins))
        axes.bar(x - 0.2, bins["reference"], width=0.4, label="reference (training)")
        axes.bar(x + 0.2, bins["current"], width=0.4, label="current (newest batch)")
        axes.set_xticks(x, bins["bin"], rotation=60, ha="right", fontsize=7)
        flag = "drifted" if feature.drifted else "stable"
        axes.set(title=f"{feature.feature}: PSI {feature.psi:.2f} ({flag})", ylabel="share")
    figure.axes[0].legend(loc="best", fontsize=7)
    return _save(figure, path)


def tuning(trials: list[dict[str, Any]], best: Tuning, directory: Path) -> list[Path]:
    """The objective over trials (with the best so far), and parameter importance when there is one."""
    complete = pd.DataFrame([t for t in trials if t["state"] == "complete"])
    pruned = sum(t["state"] == "pruned" for t in trials)
    figure = Figure(figsize=(5.5, 3.4))
    axes = figure.subplots()
    if not complete.empty:
        axes.plot(complete["number"], complete["value"], "o", markersize=4, label="trial")
        axes.step(complete["number"], complete["value"].cummax(), where="post", label="best so far")
        axes.legend(loc="lower right")
    axes.set(xlabel="trial", ylabel=str(best.metric), title=f"{len(complete)} complete, {pruned} pruned")
    written = [_save(figure, directory / "tuning_history.png")]
    if best.importance:
        importance = pd.Series(best.importance).sort_values(kind="stable")  # ties (rounded values) keep Optuna's order
        figure = Figure(figsize=(5.5, 0.5 + 0.4 * len(importance)))
        axes = figure.subplots()
        axes.barh(importance.index, importance.to_numpy())
        axes.set(xlabel="importance (Optuna)", title="Which hyperparameters mattered")
        written.append(_save(figure, directory / "tuning_importance.png"))
    return written


def all_plots(curves: Mapping[str, Curves], directory: Path) -> list[Path]:
    """Every plot for a mapping of model name to its curves; returns the files written."""
    return [
        roc({name: c["roc"] for name, c in curves.items()}, directory / "roc.png"),
        pr({name: c["pr"] for name, c in curves.items()}, directory / "pr.png"),
        calibration({name: c["calibration"] for name, c in curves.items()}, directory / "calibration.png"),
        confusion({name: c["confusion"] for name, c in curves.items()}, directory / "confusion.png"),
    ]
