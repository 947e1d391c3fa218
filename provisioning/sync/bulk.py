"""Set-based writes: PostgreSQL COPY where it is available, one prepared executemany elsewhere (SQLite).

Either way a write of N rows is one statement, not N queries, and the number of queries of a run does
not grow with the number of records.
"""

import json

from django.db import connection, models

BATCH = 1000


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_rows(model: type[models.Model], fields: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    opts = model._meta
    model_fields = [opts.get_field(f) for f in fields]
    columns = ", ".join(_quote(f.column) for f in model_fields)
    if connection.vendor == "postgresql":
        json_at = [i for i, f in enumerate(model_fields) if isinstance(f, models.JSONField)]
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {_quote(opts.db_table)} ({columns}) FROM STDIN") as copy:
                if json_at:
                    for row in rows:
                        row = list(row)
                        for i in json_at:
                            row[i] = json.dumps(row[i])
                        copy.write_row(row)
                else:
                    for row in rows:
                        copy.write_row(row)
        return
    prepared = [
        tuple(f.get_db_prep_save(v, connection) for f, v in zip(model_fields, row, strict=True)) for row in rows
    ]
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {_quote(opts.db_table)} ({columns}) VALUES ({placeholders})", prepared)


def update_rows(model: type[models.Model], key_values: list[tuple[object, dict]]) -> None:
    """Different values per row: rows changing the same fields share one prepared UPDATE (executemany)."""
    opts = model._meta
    pk = opts.pk
    groups: dict[tuple[str, ...], list] = {}
    for key, values in key_values:
        if values:
            groups.setdefault(tuple(sorted(values)), []).append((key, values))
    for names, items in groups.items():
        model_fields = [opts.get_field(n) for n in names]
        sets = ", ".join(f"{_quote(f.column)} = %s" for f in model_fields)
        params = [
            tuple(f.get_db_prep_save(values[n], connection) for f, n in zip(model_fields, names, strict=True))
            + (pk.get_db_prep_save(key, connection),)
            for key, values in items
        ]
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {_quote(opts.db_table)} SET {sets} WHERE {_quote(pk.column)} = %s", params)


def pk_chunks(ids: list, size: int = BATCH):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
