"""Fast bulk writes: PostgreSQL COPY (bulk intake, the audit trail) and array-parameter UPDATE / INSERT
statements (booking fills)."""

from __future__ import annotations

import json
from functools import lru_cache

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

# Below this many rows a plain INSERT is as fast and needs no id reservation.
COPY_THRESHOLD = 50


def _db_value(field: models.Field, obj) -> object:
    value = getattr(obj, field.attname)
    if isinstance(field, models.JSONField):
        return None if value is None else json.dumps(value, cls=DjangoJSONEncoder)
    return value


def insert_rows(table: str, pk_column: str, columns: list[str], rows: list[list]) -> list[int]:
    """Insert ``rows`` (values in ``columns`` order) into ``table``; return their new primary keys in order.

    One multi-row INSERT for a few rows, COPY (with ids reserved from the table's sequence) for many.
    Row triggers (pghistory, append-only guards) fire for COPY exactly as for INSERT.
    """
    q = connection.ops.quote_name
    cols = ", ".join(q(c) for c in columns)
    with connection.cursor() as cur:
        if len(rows) < COPY_THRESHOLD:
            row = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cur.execute(
                f"INSERT INTO {q(table)} ({cols}) VALUES {', '.join([row] * len(rows))} RETURNING {q(pk_column)}",
                [v for r in rows for v in r],
            )
            return [r[0] for r in cur.fetchall()]
    ids = ids_reserve(table, pk_column, len(rows))
    copy_rows(table, [pk_column, *columns], ([pk, *r] for pk, r in zip(ids, rows, strict=True)))
    return ids


def write_rows(table: str, columns: list[str], rows: list[list]) -> None:
    """Insert ``rows`` (values in ``columns`` order) into ``table`` when no caller needs their ids: one
    multi-row INSERT for a few, COPY for many (no id reservation: a round trip fewer than ``insert_rows``)."""
    if len(rows) >= COPY_THRESHOLD:
        copy_rows(table, columns, rows)
    elif rows:
        q = connection.ops.quote_name
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        with connection.cursor() as cur:
            cur.execute(f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES {', '.join([row] * len(rows))}",
                        [v for r in rows for v in r])


def ids_reserve(table: str, pk_column: str, n: int) -> list[int]:
    """Take ``n`` new ids from the sequence of ``table``'s ``pk_column``, in increasing order."""
    if n <= 0:
        return []
    with connection.cursor() as cur:
        # The sequence looked up once (OFFSET 0 keeps the subquery apart): pg_get_serial_sequence evaluated per
        # row cost about 3 µs an id, 30 ms of 10,000; nextval alone is under 0.5 µs.
        cur.execute("SELECT nextval(s.seq) FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq OFFSET 0) AS s, "
                    "generate_series(1, %s)", [table, pk_column, n])
        return [r[0] for r in cur.fetchall()]


def copy_rows(table: str, columns: list[str], rows) -> None:
    """COPY ``rows`` (values in ``columns`` order, any iterable) into ``table``: no ids returned.

    Row triggers fire for COPY exactly as for INSERT; a unique violation surfaces as Django's IntegrityError.
    """
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        # The raw psycopg COPY: wrap it so a database error surfaces as Django's.
        with connection.wrap_database_errors, cur.cursor.copy(f"COPY {q(table)} ({', '.join(q(c) for c in columns)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)


def bulk_insert(model: type[models.Model], objs: list[models.Model]) -> list[models.Model]:
    """Insert model instances and set their primary keys (see ``insert_rows``).

    Written against the table directly because Django's ``bulk_create`` machinery costs more CPU than
    the database does for the one- and two-row inserts of every order.
    """
    if not objs:
        return objs
    meta = model._meta
    for obj in objs:  # auto_now / auto_now_add, as bulk_create would do
        for field in meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                field.pre_save(obj, add=True)
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    ids = insert_rows(meta.db_table, meta.pk.column, [f.column for f in fields], [[_db_value(f, o) for f in fields] for o in objs])
    for pk, obj in zip(ids, objs, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def rows_update(changes: list[tuple[type[models.Model], list[models.Model], list[str]]]) -> None:
    """Write back rows changed in memory: for each ``(model, objs, fields)``, ``fields`` of ``objs``. One
    statement for all of them (``UPDATE ... FROM unnest(<one array per column>)`` per table, chained as
    data-modifying CTEs).

    Django's ``bulk_update`` builds a CASE expression per field and row, one statement per model; a VALUES
    list makes a new statement text per row count (psycopg parses each afresh). Arrays keep one text per
    table set, prepared once by the server.
    """
    parts, params = [], []
    for model, objs, fields in changes:
        if not objs:
            continue
        meta = model._meta
        cols = [meta.pk, *(meta.get_field(f) for f in fields)]
        parts.append(_update_sql(meta.db_table, tuple(cols)))
        # Plain values (ints, Decimals, strings, datetimes, None) go to psycopg as they are: the fields'
        # get_db_prep_save cost more than the rest of the statement.
        params += [[getattr(o, c.attname) for o in objs] for c in cols]
    if not parts:
        return
    # Data-modifying CTEs run whether or not the main query reads them.
    sql = parts[0] if len(parts) == 1 else "WITH " + ", ".join(f"u{i} AS ({p})" for i, p in enumerate(parts)) + " SELECT 1"
    with connection.cursor() as cur:
        cur.execute(sql, params)


@lru_cache(maxsize=64)
def _update_sql(table: str, cols) -> str:
    q = connection.ops.quote_name
    arrays = ", ".join(f"%s::{c.db_type(connection)}[]" for c in cols)
    names = ", ".join(q(c.column) for c in cols)
    sets = ", ".join(f"{q(c.column)} = v.{q(c.column)}" for c in cols[1:])
    pk = q(cols[0].column)
    return f"UPDATE {q(table)} AS t SET {sets} FROM unnest({arrays}) AS v ({names}) WHERE t.{pk} = v.{pk}"


@lru_cache(maxsize=64)
def rows_insert_sql(model: type[models.Model], fields: tuple[str, ...], suffix: str = "") -> str:
    """``INSERT INTO <table> (fields) SELECT * FROM unnest(<one array per field>)`` + ``suffix``: one statement
    text whatever the number of rows (see ``rows_update``); pass one list per field as parameters."""
    q = connection.ops.quote_name
    cols = [model._meta.get_field(f) for f in fields]
    arrays = ", ".join(f"%s::{c.db_type(connection)}[]" for c in cols)
    return f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(c.column) for c in cols)}) SELECT * FROM unnest({arrays}) {suffix}"
