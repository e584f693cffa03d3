"""The ``clintiny`` command line. Each subcommand module is a thin typer wrapper around a
plain typed function; import them here so they register on ``app``."""
from ._app import app
from . import info  # noqa: F401
from . import convert  # noqa: F401
from . import synth  # noqa: F401
from . import assets  # noqa: F401
from . import distill  # noqa: F401
from . import evaluate  # noqa: F401
from . import labels  # noqa: F401
from . import package  # noqa: F401
from . import baselines  # noqa: F401
from . import deid  # noqa: F401
from . import deid_eval  # noqa: F401

__all__ = ["app"]
