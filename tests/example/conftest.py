"""The example's fixtures: real months of the bundled flights and the weather."""

from __future__ import annotations

import pandas as pd
import pytest

from retrain.domain import Domain, use
from retrain.domain.nycflights import data as nycflights


@pytest.fixture(scope="session")
def _january() -> pd.DataFrame:
    return nycflights.flights(2013, 1)


@pytest.fixture
def january(_january: pd.DataFrame) -> pd.DataFrame:
    """The real January 2013 batch (a fresh copy per test, so tests may change it)."""
    return _january.copy()


@pytest.fixture(scope="session")
def _weather() -> pd.DataFrame:
    return nycflights.weather()


@pytest.fixture
def weather(_weather: pd.DataFrame) -> pd.DataFrame:
    return _weather.copy()


@pytest.fixture(scope="module", autouse=True)
def _example_domain(domain: Domain) -> None:
    """The example is the process's domain in its modules, from before their module fixtures fit any model (a
    model's steps run the active domain, and a test of another file in this worker may have made another active)."""
    use(domain)
