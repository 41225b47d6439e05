"""The `retrain` entry point: every command registered, and the one place that maps errors to exit codes."""

from __future__ import annotations

import logging
import sys

import click

from retrain.cli import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_OK, app, commands, github, stages
from retrain.errors import BadInput, Failed

log = logging.getLogger("retrain")
REGISTERED = (stages, commands, github)  # importing them adds their commands to `app`


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code (0 ok, 2 bad usage or input, 3 gate blocked, 1 failed)."""
    try:
        code = app.main(args=argv, prog_name="retrain", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help
        return done.exit_code
    except click.ClickException as error:  # bad usage: click's own message
        error.show()
        return EXIT_BAD_INPUT
    except click.Abort:
        return EXIT_ERROR
    except BadInput as error:
        log.error("%s", error)
        return EXIT_BAD_INPUT
    except Failed as error:
        log.error("failed: %s", error)
        return EXIT_ERROR
    return int(code or EXIT_OK)


if __name__ == "__main__":
    sys.exit(main())
