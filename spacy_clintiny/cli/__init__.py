"""The ``clintiny`` command line. Each subcommand module is a thin typer wrapper around a
plain typed function; import them here so they register on ``app``."""

from . import (
    assets,  # noqa: F401
    baselines,  # noqa: F401
    calibrate,  # noqa: F401
    convert,  # noqa: F401
    deid,  # noqa: F401
    deid_eval,  # noqa: F401
    distill,  # noqa: F401
    evaluate,  # noqa: F401
    info,  # noqa: F401
    labels,  # noqa: F401
    optimize,  # noqa: F401
    package,  # noqa: F401
    side_by_side,  # noqa: F401
    spark,  # noqa: F401
    synth,  # noqa: F401
)
from ._app import app

__all__ = ["app"]
