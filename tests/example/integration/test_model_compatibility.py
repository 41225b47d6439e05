"""Old model files keep loading and scoring as they did: a model fitted and saved by the code before the package was
split into rooms (a Pipeline without today's cleaning step, committed under `fixtures/flat_layout/`, see its
README) loads with today's code and gives the probabilities the old code gave; on data without impossible
readings, today's fit gives the same ones. No git history is needed: the old file, its rows and its
probabilities are committed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retrain.domain import Domain
from retrain.domain.nycflights import data as nycflights
from retrain.domain.nycflights import features, schema
from retrain.io import files, modelfile
from retrain.pipeline import featurize
from retrain.pipeline.model import build

FLAT_LAYOUT = Path(__file__).parent / "fixtures/flat_layout"
OLD_MD5 = "fae404838f3f204f7cf76c3981e5478d"  # the file remake.py wrote with the flat layout's code
HYPERPARAMETERS = {"max_iter": 20, "max_leaf_nodes": 15, "early_stopping": False}  # the old fit's, seed 42


def test_a_model_saved_by_the_flat_layout_loads_and_scores_as_it_did() -> None:
    old = FLAT_LAYOUT / "model.skops"
    assert files.md5(old) == OLD_MD5, f"{old} is not the file the old code saved: remake it as its README says"
    rows = files.read_frame(FLAT_LAYOUT / "rows.parquet")
    probabilities = modelfile.load(old).predict_proba(rows)
    np.testing.assert_array_equal(probabilities, np.load(FLAT_LAYOUT / "probabilities.npy"))


def test_todays_fit_of_the_same_data_gives_the_old_probabilities(tmp_path: Path, domain: Domain) -> None:
    joined = features.join_weather(nycflights.flights(2013, 1), nycflights.weather())
    frame, _ = featurize.label(joined, domain)
    assert not (frame["wind_speed"] > 100).any()  # January 2013: today's cleaning step changes nothing here
    assert domain.config.cleaning() == {"max_wind_speed": 100}
    model = build(domain, "hist_gradient_boosting", HYPERPARAMETERS, 42)
    new = tmp_path / "new.skops"
    modelfile.save(model.fit(pd.DataFrame(frame[list(schema.FEATURES)]), frame[schema.TARGET]), new)
    probabilities = modelfile.load(new).predict_proba(files.read_frame(FLAT_LAYOUT / "rows.parquet"))
    np.testing.assert_array_equal(probabilities, np.load(FLAT_LAYOUT / "probabilities.npy"))
