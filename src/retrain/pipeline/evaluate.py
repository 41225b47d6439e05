"""Stage `evaluate`: score the test window, overall and per slice, and aggregate the curves for plots."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dask.delayed import delayed
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline

from retrain import plots, tracking
from retrain.domain import Domain, load_domain, use
from retrain.io import cluster, files, modelfile
from retrain.params import Evaluate, Params
from retrain.pipeline import partitioned

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    slices: list[dict[str, Any]]
    curves: dict[str, pd.DataFrame]


def predict(model: Pipeline, frame: pd.DataFrame, domain: Domain) -> np.ndarray:
    """The probability of the positive class for each raw row."""
    return np.asarray(model.predict_proba(frame[list(domain.features)])[:, 1])


def scores(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Threshold-free and thresholded metrics of one set of predictions."""
    decided = (proba >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(y, decided, average="binary", zero_division=0.0)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(roc_auc_score(y, proba)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, proba)) if both else float("nan"),
        "log_loss": float(log_loss(y, proba, labels=[0, 1])),
        "brier": float(brier_score_loss(y, proba)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def curves(
    y: np.ndarray, proba: np.ndarray, threshold: float, points: int, names: tuple[str, str] = ("0", "1")
) -> dict[str, pd.DataFrame]:
    """ROC, PR, calibration and confusion data (its classes called `names`), aggregated to a few rows each (never one
    row per sample)."""
    grid = np.linspace(0.0, 1.0, points)
    fpr, tpr, _ = roc_curve(y, proba)
    precision, recall, _ = precision_recall_curve(y, proba)
    # Recall never rises along sklearn's curve: reversed (not sorted), it rises and each run of equal recall keeps
    # the curve's own order. np.argsort is unstable on those ties, and its order depends on the CPU's SIMD kernel.
    recall, precision = recall[::-1], precision[::-1]
    prob_true, prob_pred = calibration_curve(y, proba, n_bins=10, strategy="quantile")
    matrix = confusion_matrix(y, (proba >= threshold).astype(int), labels=[0, 1])
    return {
        "roc": pd.DataFrame({"fpr": grid, "tpr": np.interp(grid, fpr, tpr)}),
        "pr": pd.DataFrame({"recall": grid, "precision": np.interp(grid, recall, precision)}),
        "calibration": pd.DataFrame({"predicted": prob_pred, "observed": prob_true}),
        "confusion": pd.DataFrame(
            [
                {"actual": names[a], "predicted": names[p], "count": int(matrix[a, p])}
                for a in range(2)
                for p in range(2)
            ]
        ),
    }


def slice_rows(frame: pd.DataFrame, columns: Iterable[str]) -> Iterator[tuple[str, str, np.ndarray]]:
    """(column, value, row positions) for every value of every slice column, in sorted order."""
    for column in columns:
        for value, index in frame.groupby(column, sort=True).indices.items():
            yield column, str(value), np.asarray(index)


def slice_scores(frame: pd.DataFrame, proba: np.ndarray, params: Evaluate, target: str) -> list[dict[str, Any]]:
    """The same metrics per value of each slice column; slices below `min_slice_rows` get counts only."""
    rows = []
    y = frame[target].to_numpy()
    for column, value, index in slice_rows(frame, params.slices):
        row: dict[str, Any] = {"slice": column, "value": value, "rows": len(index)}
        row["positive_share"] = round(float(y[index].mean()), 4)
        if len(index) >= params.min_slice_rows:
            row |= {k: round(v, 6) for k, v in scores(y[index], proba[index], params.threshold).items()}
        rows.append(row)
    return rows


def evaluate(model: Pipeline, frame: pd.DataFrame, params: Evaluate, domain: Domain) -> Evaluation:
    """Metrics of the fitted Pipeline on the test window."""
    return evaluation(frame, predict(model, frame, domain), params, domain)


def evaluation(frame: pd.DataFrame, proba: np.ndarray, params: Evaluate, domain: Domain) -> Evaluation:
    """Metrics of the predictions `proba` of the test window's rows `frame` (its target and slice columns)."""
    y = frame[domain.target].to_numpy()
    metrics = {k: round(v, 6) for k, v in scores(y, proba, params.threshold).items()}
    metrics |= {
        "threshold": params.threshold,
        "test_rows": len(frame),
        "test_positive_share": round(float(y.mean()), 4),
    }
    curve_data = curves(y, proba, params.threshold, params.curve_points, domain.words.classes)
    return Evaluation(metrics, slice_scores(frame, proba, params, domain.target), curve_data)


def _scored(frame: pd.DataFrame, model: Pipeline, domain: Domain, columns: list[str]) -> pd.DataFrame:
    """A partition's `columns` and its predictions (a cluster's worker: the model's steps run the active domain)."""
    use(domain)
    return frame[columns].assign(**{PROBA: predict(model, frame, domain)})


PROBA = "__proba__"


def run(params: Params, root: Path) -> None:
    """Stage evaluate: metrics, slices and plots on the test window; log the model and all of it to MLflow."""
    paths, domain = params.paths, load_domain(params)
    model = modelfile.load(paths.model)
    if params.engine == "dask":  # scored per part on the cluster, measured here from the predictions
        ranges, columns = files.row_ranges(paths.test, params.partition_rows), [domain.target, *params.evaluate.slices]
        with cluster.connect():
            loaded = delayed(modelfile.load)(paths.model.resolve())  # once per worker that needs it
            (scored,) = partitioned.compute(partitioned.tasks(_scored, ranges, loaded, domain, columns))
        test = pd.concat(scored, ignore_index=True)
        result = evaluation(test, test[PROBA].to_numpy(), params.evaluate, domain)
        test = files.read_rows(files.Rows(ranges[0].path, 0, min(5, ranges[0].stop)))  # the logged input example
    else:
        test = files.read_frame(paths.test)
        result = evaluate(model, test, params.evaluate, domain)
    files.write_json(result.metrics, paths.metrics)
    files.write_json(result.slices, paths.slices)
    for name, frame in result.curves.items():
        files.write_json(frame.to_dict("records"), paths.plots / f"{name}.json")
    figures = plots.all_plots({"model": result.curves}, paths.figures)
    tracking.log_model(params, root, model, test, result.metrics, figures)
    log.info("evaluate: roc_auc %.4f, pr_auc %.4f", result.metrics["roc_auc"], result.metrics["pr_auc"])
