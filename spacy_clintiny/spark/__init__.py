"""Any clintiny pipeline on Apache Spark: annotate and de-identify DataFrames of notes.

``annotate`` and ``deidentify`` add structured columns to a DataFrame (spans, cats, relations,
de-identified text, a per-note error) with ``mapInPandas``; ``get_session`` makes a session whose
Python workers run this interpreter; ``run_spark_deid`` is the ``clintiny spark-deid`` job. pyspark
is the optional extra ``spacy-clintiny[spark]``: importing this package does not need it, using it
does (docs/spark.md).
"""

from .api import annotate, deidentify
from .job import run_spark_deid
from .session import get_session, use_this_python

__all__ = ["annotate", "deidentify", "get_session", "run_spark_deid", "use_this_python"]
