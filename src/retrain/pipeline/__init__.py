"""The pipeline stages that `dvc repro` runs, as pure functions plus a `run(params, root)` each (what
`retrain <stage>` calls): validate, featurize, drift, tune, train, evaluate; `model.py` builds the one Pipeline.

`clean_readings` and `derive_features` live here, not in `model.py`: every saved model names them by these qualified
names (`retrain.pipeline.derive_features`), so moving them would change the model's bytes and make old champions
unloadable. They run the domain's `clean` and `derive` (`retrain.domain.active()`: the one params.yaml names).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from retrain import domain


def clean_readings(frame: pd.DataFrame, **limits: Any) -> pd.DataFrame:
    """The Pipeline's first step: the domain's cleaning (values that cannot be real become missing), so that the
    service scores an impossible value exactly as training saw it."""
    return domain.active().clean(frame, **limits)


def derive_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The Pipeline's second step: the domain's stateless derived features."""
    return domain.active().derive(frame)
