"""What the service scores with: the verified Pipeline, its trees compiled by Treelite when they can be.

A fitted HistGradientBoostingClassifier scores its trees in a Python loop, one Cython call per tree: about 6 ms per
call for 300 trees, whatever the rows, more than all the Pipeline's other steps together. Treelite imports the same
fitted trees and scores them in one C++ call (about 0.2 ms), but costs 3 times as much per row (31 against 10 us):
so calls of up to `COMPILED_ROWS` rows (single requests, small batches) use the compiled trees, larger ones the
Pipeline's (measured on 2 cores: 1 row 6.4 ms against 10.8, 100 rows 9.3 against 12.4, 1,000 rows 37.5 against
21.7, whole calls). The compiled trees are derived when the service starts, from the model file already checked
against dvc.lock (never a second artifact to deploy or verify), and used only if their probabilities equal the
Pipeline's within `TOLERANCE` on the check rows (the golden records); otherwise a warning, and the Pipeline scores
alone. Every step before the trees is the Pipeline's own.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import treelite
import treelite.frontend
import treelite.sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

TOLERANCE = 1e-9  # sklearn's trees and Treelite both sum in float64
FLOAT32_TOLERANCE = 1e-6  # XGBoost sums its trees in float32 (measured: up to 4.2e-7 from Treelite's sums)
COMPILED_ROWS = 256  # where the two costs cross


class Scorer:
    """`pipeline.predict_proba(frame)[:, 1]`, with the final trees compiled when that gives the same numbers."""

    def __init__(self, pipeline: Pipeline, check: pd.DataFrame | None) -> None:
        self.pipeline, self.trees = pipeline, None
        self.steps = pipeline[:-1] if len(pipeline) > 1 else None  # the steps before the trees, if any
        final = pipeline[-1]
        xgboost = type(final).__module__.startswith("xgboost.")
        if not (isinstance(final, HistGradientBoostingClassifier) or xgboost) or len(final.classes_) != 2:
            return  # nothing to compile: the Pipeline is as fast as it gets
        if check is None or check.empty:
            log.warning("no check rows to verify compiled trees against: the Pipeline scores alone")
            return
        try:
            if xgboost:
                self.trees, tolerance = treelite.frontend.from_xgboost(final.get_booster()), FLOAT32_TOLERANCE
            else:
                self.trees, tolerance = treelite.sklearn.import_model(final), TOLERANCE
            columns = list(self._encode(check.head(1)).columns)
            if columns != list(final.feature_names_in_):
                raise ValueError(f"the steps give columns {columns}, the trees read {list(final.feature_names_in_)}")
            rows = check.head(COMPILED_ROWS)
            difference = float(np.max(np.abs(self(rows) - pipeline.predict_proba(rows)[:, 1])))
            if not difference <= tolerance:
                raise ValueError(f"probabilities differ by {difference:.3g} from the Pipeline's")
        except Exception as error:  # a model or library that Treelite cannot read the same way: no speed-up
            log.warning("compiled trees not used (%s: %s): the Pipeline scores alone", type(error).__name__, error)
            self.trees = None

    @property
    def compiled(self) -> bool:
        return self.trees is not None

    def __call__(self, frame: pd.DataFrame) -> Any:
        if self.trees is None or len(frame) > COMPILED_ROWS:
            return self.pipeline.predict_proba(frame)[:, 1]
        encoded = np.asarray(self._encode(frame), dtype="float64")
        return treelite.gtil.predict(self.trees, encoded, nthread=1).reshape(len(frame), -1)[:, -1]

    def _encode(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame if self.steps is None else self.steps.transform(frame)
