"""The health check reads the live release's Bento as data: after it rolled back to a Bento built by other code (an
older one, whose params.yaml lacks keys this code has, or a newer one with keys it does not know), it goes on
checking it, with the settings of the code it runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from retrain.domain import Domain
from retrain.domain.nycflights import features, schema
from retrain.io import files, modelfile
from retrain.params import Params
from retrain.pipeline import featurize, train
from retrain.release import deploy, health


def test_the_checker_reads_a_bento_whose_params_this_code_would_reject(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    params: Params,
    _january: pd.DataFrame,
    _weather: pd.DataFrame,
    domain: Domain,
) -> None:
    src = tmp_path / "bento/src"
    raw = yaml.safe_load(Path("params.yaml").read_text())
    del raw["deploy"]["health"], raw["deploy"]["canary"]["alpha"]  # built before these existed ...
    raw["serve"]["a_later_setting"] = 1  # ... or after this one
    (src / "deploy").mkdir(parents=True)
    (src / "params.yaml").write_text(yaml.safe_dump(raw))
    flights = featurize.label(features.join_weather(_january, _weather), domain)[0].sample(300, random_state=0)
    settings = params.train.model_copy(update={"hyperparameters": {"hist_gradient_boosting": {"max_iter": 10}}})
    modelfile.save(train.train(flights, settings, domain), src / raw["paths"]["model"])
    golden = flights[list(schema.FEATURES)].head(3).to_dict("records")
    files.write_json(golden, src / raw["paths"]["golden"])
    monkeypatch.setattr(deploy, "bento_path", lambda tag: tmp_path / "bento")

    live = {"bento": "retrain-service:old", "md5": files.md5(src / raw["paths"]["model"]), "program": "release-a"}
    checker = health.Checker(tmp_path / "home", live, params)
    assert checker.settings == params.deploy.health and len(checker.golden) == len(golden)
    assert checker.model.predict_proba(pd.DataFrame(checker.golden)).shape == (3, 2)
