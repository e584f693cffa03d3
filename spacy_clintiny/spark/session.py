"""A SparkSession whose Python workers run this interpreter."""

import os
import sys
from typing import Any, Mapping, Optional

from .checks import require_pyspark

PYTHON_ENV = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")


def use_this_python(master: Optional[str] = None) -> bool:
    """In local mode, make Spark start its Python workers with ``sys.executable`` (this venv,
    which has spacy_clintiny and the model) unless ``PYSPARK_PYTHON`` is already set. Only a
    session created afterwards sees it. Under ``spark-submit`` (``PYSPARK_GATEWAY_PORT`` set) or
    with a cluster master nothing is changed: set ``spark.pyspark.python`` to the executors'
    interpreter there (docs/spark.md).

    master (Optional[str]): The master the session will use (None: local[*] outside spark-submit).
    RETURNS (bool): Whether the environment was set.
    """
    local = master.startswith("local") if master is not None else "PYSPARK_GATEWAY_PORT" not in os.environ
    if not local:
        return False
    for name in PYTHON_ENV:
        os.environ.setdefault(name, sys.executable)
    return True


def get_session(
    master: Optional[str] = None,
    *,
    app_name: str = "clintiny",
    conf: Optional[Mapping[str, Any]] = None,
    log_level: Optional[str] = "WARN",
) -> Any:
    """The active SparkSession, or a new one (``getOrCreate``).

    master (Optional[str]): e.g. "local[2]" or "yarn"; None takes spark-submit's (or local[*]).
    app_name (str): The application name.
    conf (Optional[Mapping[str, Any]]): Extra Spark settings for a new session.
    log_level (Optional[str]): The JVM log level ("WARN", "ERROR"...); None leaves it.
    RETURNS (SparkSession): The session.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    use_this_python(master)
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for name, value in (conf or {}).items():
        builder = builder.config(name, str(value))
    spark = builder.getOrCreate()
    if log_level is not None:
        spark.sparkContext.setLogLevel(log_level)
    return spark
