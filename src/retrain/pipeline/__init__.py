"""The pipeline stages that `dvc repro` runs, as pure functions plus a `run(params, root)` each (what
`retrain <stage>` calls): validate, featurize, drift, tune, train, evaluate; `model.py` builds the one Pipeline.

`clean_readings` and `derive_features` live here, not in `model.py`: every saved model names them by these qualified
names (`retrain.pipeline.derive_features`), so moving them would change the model's bytes and make old champions
unloadable. A change of what one of them does is a new function under a new name, for the same reason.
"""

from __future__ import annotations

import pandas as pd

from retrain.domain.nycflights import features


def clean_readings(frame: pd.DataFrame, max_wind_speed: float) -> pd.DataFrame:
    """The Pipeline's first step: readings that cannot be real become missing (the domain's cleaning), so
    that the service scores an impossible reading exactly as training saw it."""
    return features.clean_weather(frame, max_wind_speed)


def derive_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The Pipeline's first step: the example domain's stateless derived features (`nycflights.features.derive`)."""
    return features.derive(frame)
