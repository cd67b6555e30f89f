"""Training and evaluation of the spam model from labelled files (`train`, `eval`, `model push`)."""

from __future__ import annotations

import argparse


def register_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `train`, `eval` and `model` subcommands (issue 5 fills these in)."""
