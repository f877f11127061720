"""Model instances from raw SQL rows, converted exactly as a queryset converts them.

The hottest reads (a token's user on every socket and API request; a membership with
its room on every join and every batch of posts) are raw SQL, because the ORM's query
compiler cost more than the round trip. Their rows still go through Django's own
converters for each field, so both databases give the values the ORM would. The
converters are bound to a database connection, so they are looked up once per
connection (each thread keeps its own) and model, not on every row, and kept on the
connection itself: they go when it goes (a request's thread ends, and its connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

_CACHE = "_chat_raw_row_converters"  # the attribute on the connection


def columns(alias: str, fields: Sequence[Field]) -> list[str]:
    """`alias."column"` for each field, in order: the SELECT list for from_row."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return [f"{alias}.{quote(field.column)}" for field in fields]


def from_row(model: type[M], fields: Sequence[Field], values: Sequence[Any]) -> M:
    """An instance of `model` from the raw values of `fields`, in that order."""
    connection = connections[DEFAULT_DB_ALIAS]
    cache: dict[tuple, tuple[Any, Any]] | None = getattr(connection, _CACHE, None)
    if cache is None:
        cache = {}
        setattr(connection, _CACHE, cache)
    names = tuple(field.attname for field in fields)
    found = cache.get((model, names))
    if found is None:
        compiler = connection.ops.compiler("SQLCompiler")(
            model._default_manager.none().query, connection, None
        )
        table = model._meta.db_table
        converters = compiler.get_converters([field.get_col(table) for field in fields])
        found = cache[(model, names)] = (compiler, converters)
    compiler, converters = found
    (converted,) = compiler.apply_converters([list(values)], converters)
    return model.from_db(connection.alias, list(names), converted)
