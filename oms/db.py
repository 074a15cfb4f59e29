"""Fast bulk writes with PostgreSQL COPY (used by bulk intake and the audit trail)."""

from __future__ import annotations

import json

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
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk_column, len(rows)])
        ids = [r[0] for r in cur.fetchall()]
        # The raw psycopg COPY: wrap it so a unique violation surfaces as Django's IntegrityError.
        with connection.wrap_database_errors, cur.cursor.copy(f"COPY {q(table)} ({q(pk_column)}, {cols}) FROM STDIN") as copy:
            for pk, r in zip(ids, rows, strict=True):
                copy.write_row([pk, *r])
        return ids


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
