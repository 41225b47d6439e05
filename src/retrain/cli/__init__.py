"""`retrain`: one command per pipeline stage (validate, featurize, drift, tune, train, evaluate), the data commands
(new-batch, bootstrap, set-params), the decision (compare, gate, report, summary), monitoring (monitor, alert) and
the release (deploy, smoke, promote, history).

The CLI only parses, loads params, calls the room that owns the command, and prints. `stages.py` holds the stage
commands, `commands.py` the others, `main.py` the entry point that maps errors to exit codes: 0 ok; 2 bad usage or
bad input (one clear message); 3 gate blocked; 1 unexpected. This module holds what they share and imports no room.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import click

from retrain.params import Params, load

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_BLOCKED = 0, 1, 2, 3


@dataclass
class State:
    """The params file named on the command line, loaded on first use (so `--help` needs none)."""

    path: Path

    @functools.cached_property
    def params(self) -> Params:
        return load(self.path)

    @property
    def root(self) -> Path:
        return self.path.resolve().parent


pass_state = click.make_pass_decorator(State)


HELP = """Retrain, judge, promote and serve the model that dvc.lock names.

Exit codes: 0 ok; 2 bad usage or bad input (one message naming the file, column and rule, or the key); 3 the
promotion gate blocked (compare, gate, smoke); 1 anything else that failed."""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--params", "params_file", type=Path, default=Path("params.yaml"), show_default=True, help="params file")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
@click.pass_context
def app(ctx: click.Context, params_file: Path, verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")
    ctx.obj = State(params_file)
