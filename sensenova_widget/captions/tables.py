"""The inputs caption() accepts, seen one way: a pandas DataFrame or Series, or a polars DataFrame.

Each adapter gives the row values, the fields a prompt may name, a row's label, and builds the
result (a new object: the input is never changed).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequestError

__all__ = [
    "COUNT",
    "TEXT",
    "Kind",
    "PandasFrame",
    "PandasSeries",
    "PolarsFrame",
    "Table",
    "pandas_column",
    "table_for",
    "text_dtype",
]


@dataclass(frozen=True)
class Kind:
    """A result column's type, for pandas and polars alike: "text", "int", "float", "bool",
    "category" (with exactly `categories`) or "object" (plain Python values)."""

    name: str
    categories: tuple = ()


TEXT = Kind("text")
COUNT = Kind("int")  # token counts


class Table:
    """The input, seen the same way whatever its kind: values per row, fields, and a result builder."""

    def __init__(self, data: Any, column: Any) -> None:
        self.data = data
        self.column = column

    def __len__(self) -> int:
        return len(self.data)

    @property
    def fields(self) -> list:
        """The names a prompt template may use: the frame's columns."""
        return list(self.data.columns)

    def values(self) -> Iterator[Any]:
        raise NotImplementedError

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        raise NotImplementedError

    def label(self, position: int) -> Any:
        return position

    def result(self, columns: dict[str, list], kinds: Mapping[str, Kind], summary: dict) -> Any:
        """A new object with `columns` added, each of its kind in `kinds` (text when not named)."""
        raise NotImplementedError


class PandasFrame(Table):
    def __init__(self, data: Any, column: Any) -> None:
        super().__init__(data, column)
        if column is None:
            raise InvalidRequestError(
                "column= is required for a DataFrame: name the column holding the images "
                f"(the columns are {', '.join(map(repr, data.columns))}).",
                field="column",
            )
        if column not in data.columns:
            raise InvalidRequestError(
                f"column={column!r} is not in the DataFrame: "
                f"the columns are {', '.join(map(repr, data.columns))}.",
                field="column",
            )
        if not data.columns.is_unique:
            twice = sorted({repr(c) for c in data.columns[data.columns.duplicated()]})
            raise InvalidRequestError(
                f"the DataFrame has more than one column named {', '.join(twice)}: "
                "rename them so each row's fields are unambiguous.",
                field="data",
            )

    def values(self) -> Iterator[Any]:
        return iter(self.data[self.column])

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        return zip(*(self.data[name] for name in names)) if names else itertools.repeat(())

    def label(self, position: int) -> Any:
        return self.data.index[position]

    def result(self, columns: dict[str, list], kinds: Mapping[str, Kind], summary: dict) -> Any:
        new = self.data.copy()
        for name, values in columns.items():
            new[name] = pandas_column(values, kinds.get(name, TEXT))
        new.attrs["sensenova_summary"] = summary
        return new


class PandasSeries(PandasFrame):
    def __init__(self, data: Any, column: Any) -> None:
        if column is not None and column != data.name:
            raise InvalidRequestError(
                f"column={column!r} does not apply to a Series: "
                "pass the Series alone, or a DataFrame and a column.",
                field="column",
            )
        Table.__init__(self, data, column)

    @property
    def fields(self) -> list:
        return [self.data.name] if isinstance(self.data.name, str) else []

    def values(self) -> Iterator[Any]:
        return iter(self.data)

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        return ((value,) for value in self.data) if names else itertools.repeat(())

    def result(self, columns: dict[str, list], kinds: Mapping[str, Kind], summary: dict) -> Any:
        import pandas as pd

        (out, texts), (_, errors) = list(columns.items())[:2]
        series = pd.Series(pandas_column(texts), index=self.data.index, name=out)
        series.attrs["sensenova_summary"] = summary
        series.attrs["sensenova_errors"] = {
            self.data.index[i]: e for i, e in enumerate(errors) if e is not None
        }
        series.attrs["sensenova_columns"] = {name: values for name, values in list(columns.items())[2:]}
        return series


class PolarsFrame(Table):
    def __init__(self, data: Any, column: Any) -> None:
        super().__init__(data, column)
        if column is None or column not in data.columns:
            raise InvalidRequestError(
                f"column={column!r} is not in the DataFrame: name the column holding the images "
                f"(the columns are {', '.join(map(repr, data.columns))}).",
                field="column",
            )

    def values(self) -> Iterator[Any]:
        return iter(self.data.get_column(self.column))

    def field_values(self, names: list[str]) -> Iterator[tuple]:
        return zip(*(self.data.get_column(name) for name in names)) if names else itertools.repeat(())

    def result(self, columns: dict[str, list], kinds: Mapping[str, Kind], summary: dict) -> Any:

        new = self.data.with_columns(
            [polars_column(name, values, kinds.get(name, TEXT)) for name, values in columns.items()]
        )
        new.sensenova_summary = summary  # polars frames have no attrs: a plain attribute, documented
        return new


_PANDAS = {"int": "Int64", "float": "Float64", "bool": "boolean"}


def pandas_column(values: list, kind: Kind = TEXT) -> Any:
    """A result column of `kind`, nullable (missing stays missing); object columns hold the
    values as they are (lists, dicts)."""
    import pandas as pd

    if kind.name == "category":
        return pd.Categorical(values, categories=list(kind.categories))
    if kind.name == "object":
        column = pd.array([None] * len(values), dtype=object)
        column[:] = values  # element-wise: a list value stays one cell, not a row of its own
        return column
    return pd.array(values, dtype=_PANDAS.get(kind.name) or text_dtype())


def polars_column(name: str, values: list, kind: Kind = TEXT) -> Any:
    """A polars result column of `kind` (object values as polars infers them: lists, structs)."""
    import polars as pl

    dtypes = {"text": pl.String, "int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean}
    if kind.name == "category":
        return pl.Series(name, values, dtype=pl.Enum([str(c) for c in kind.categories]))
    return pl.Series(name, values, dtype=dtypes.get(kind.name), strict=False)


def text_dtype() -> Any:
    """pandas 3's `str` (missing values are NaN); on pandas 2 `str` would turn None into "None"."""
    import pandas as pd

    return "str" if int(pd.__version__.split(".", 1)[0]) >= 3 else object


def table_for(data: Any, column: Any) -> Table:
    """The adapter for `data`, checked against `column`; anything else is refused by name."""
    module = type(data).__module__.split(".", 1)[0]
    name = type(data).__name__
    if module == "pandas" and name == "DataFrame":
        return PandasFrame(data, column)
    if module == "pandas" and name == "Series":
        return PandasSeries(data, column)
    if module == "polars" and name == "DataFrame":
        return PolarsFrame(data, column)
    raise InvalidRequestError(
        f"caption() got a {type(data).__module__}.{name}: expected a pandas DataFrame (with column=), "
        "a pandas Series, or a polars DataFrame (with column=).",
        field="data",
    )
