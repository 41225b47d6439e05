"""The pipeline stages that `dvc repro` runs, as pure functions plus a `run(params, root)` each (what
`retrain <stage>` calls): validate, featurize, drift, tune, train, evaluate; `model.py` builds the one Pipeline.

`derive_features` lives here, not in `model.py`: every saved model names it by this qualified name
(`retrain.pipeline.derive_features`), so moving it would change the model's bytes and make old champions unloadable.
"""

from __future__ import annotations

import pandas as pd

from retrain.domain import features


def derive_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The Pipeline's first step: the example domain's stateless derived features (`domain.features.derive`)."""
    return features.derive(frame)
