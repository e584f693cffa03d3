"""Driver-side checks shared by ``annotate``, ``deidentify`` and the ``spark-deid`` job: pyspark
present, the model reachable, the columns there and of the right type. They run before any
Spark task starts."""

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import spacy

from ..errors import Errors

RULES_ONLY = "rules"


def require_pyspark() -> None:
    """Raise E800 when pyspark (or pandas / pyarrow, which its Arrow UDFs need) is missing."""
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as err:
        raise ImportError(Errors.E800.format(err=err)) from None


def resolve_model(model: Any, *, rules_ok: bool = False) -> str:
    """Check on the driver that a model exists, and say how the executors will find it.

    model (Any): A pipeline folder (made absolute: executors may run elsewhere) or the name of
        an installed pipeline package; "rules" for rule-only de-identification.
    rules_ok (bool): Whether "rules" is allowed.
    RETURNS (str): The absolute folder, the package name or "rules".
    """
    if rules_ok and model == RULES_ONLY:
        return RULES_ONLY
    if isinstance(model, (str, Path)) and str(model):
        path = Path(model)
        if path.exists():
            if (path / "config.cfg").is_file():
                return str(path.resolve())
        elif spacy.util.is_package(str(model)):
            return str(model)
    hint = f" or '{RULES_ONLY}' for the rule patterns alone" if rules_ok else ""
    raise ValueError(Errors.E801.format(model=model, cwd=Path.cwd(), hint=hint))


def pipeline_config(model: str) -> Dict[str, Any]:
    """The (uninterpolated) config of a resolved model folder or package."""
    path = Path(model)
    if not path.exists():
        package = spacy.util.get_package_path(model)
        path = next(child for child in sorted(package.iterdir()) if (child / "config.cfg").is_file())
    return spacy.util.load_config(path / "config.cfg", interpolate=False)


def span_keys_of(config: Dict[str, Any]) -> List[str]:
    """The span groups a pipeline writes: every component's ``spans_key`` (clintiny_ner,
    spancat, span_ruler) and ``output_key`` (clintiny_deid), in pipeline order.

    config (Dict[str, Any]): The pipeline config.
    RETURNS (List[str]): The span group names.
    """
    components = config.get("components", {})
    keys: List[str] = []
    for name in config.get("nlp", {}).get("pipeline", components.keys()):
        section = components.get(name, {})
        for setting in ("spans_key", "output_key"):
            value = section.get(setting)
            if isinstance(value, str) and value and value not in keys:
                keys.append(value)
    return keys


def check_columns(df: Any, *, inputs: Dict[str, Optional[str]], outputs: Iterable[str], replaced: str = "") -> None:
    """Raise when an input column is missing or the text is not a string, or when an output
    column would overwrite an input column.

    df (DataFrame): The input.
    inputs (Dict[str, Optional[str]]): Role ("text", "id", "patient") -> column (None: unused).
    outputs (Iterable[str]): The columns that will be added.
    replaced (str): An input column that is replaced on purpose (the de-identified text).
    """
    from pyspark.sql.types import StringType

    columns = list(df.columns)
    for role, col in inputs.items():
        if col is None:
            continue
        if col not in columns:
            raise ValueError(Errors.E802.format(col=col, role=role, columns=", ".join(columns)))
        if role == "text" and not isinstance(df.schema[col].dataType, StringType):
            raise ValueError(Errors.E803.format(col=col, type=df.schema[col].dataType.simpleString()))
    seen = set()
    for col in outputs:
        if col in seen or (col in columns and col != replaced):
            raise ValueError(Errors.E804.format(col=col))
        seen.add(col)


def check_positive(name: str, value: Any, *, optional: bool = False) -> None:
    """Raise E807 unless ``value`` is an int >= 1 (or None when ``optional``)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(Errors.E807.format(name=name, value=value, expected="a whole number >= 1"))


def quoted(col: str) -> str:
    """A column name as a Spark column reference (backticks: dots and spaces are literal)."""
    return "`" + col.replace("`", "``") + "`"
