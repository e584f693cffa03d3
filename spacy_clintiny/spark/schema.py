"""Spark types of the output columns (see ``records.py`` for their values).

- a span group: ``array<struct<start:int, end:int, label:string, kb_id:string, source:string,
  score:double, is_negated:boolean, is_uncertain:boolean, is_historical:boolean,
  is_hypothetical:boolean, is_family:boolean[, text:string]>>``;
- ``cats``: ``map<string, double>``;
- ``relations``: ``array<struct<head_start:int, head_end:int, head_label:string, tail_start:int,
  tail_end:int, tail_label:string, label:string, score:double[, head_text, tail_text]>>``;
- ``phi`` (de-identification): ``array<struct<start:int, end:int, label:string, subtype:string,
  source:string, score:double, operator:string, out_start:int, out_end:int>>``;
- ``error``: string.

Offsets are character offsets into the input text (``out_*`` into the de-identified text).
"""

from typing import Sequence

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DoubleType,
    IntegerType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from .records import CONTEXT_FLAGS

_INT = ("start", "end", "head_start", "head_end", "tail_start", "tail_end", "out_start", "out_end")


def _field(name: str) -> StructField:
    if name in _INT:
        kind: DataType = IntegerType()
    elif name == "score":
        kind = DoubleType()
    elif name in CONTEXT_FLAGS:
        kind = BooleanType()
    else:
        kind = StringType()
    return StructField(name, kind, nullable=True)


def rows_type(fields: Sequence[str]) -> ArrayType:
    """RETURNS (ArrayType): ``array<struct<...>>`` with one typed field per name."""
    return ArrayType(StructType([_field(name) for name in fields]), containsNull=False)


def cats_type() -> MapType:
    """RETURNS (MapType): ``map<string, double>``."""
    return MapType(StringType(), DoubleType(), valueContainsNull=False)


def with_columns(schema: StructType, columns: Sequence[StructField]) -> StructType:
    """The input schema with the output columns appended (a column of the same name is replaced
    in place).

    schema (StructType): The input DataFrame's schema.
    columns (Sequence[StructField]): The output columns.
    RETURNS (StructType): The output schema.
    """
    new = {field.name: field for field in columns}
    kept = [new.pop(field.name) if field.name in new else field for field in schema.fields]
    return StructType(kept + [field for field in columns if field.name in new])
