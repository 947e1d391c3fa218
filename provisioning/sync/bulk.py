"""Set-based writes: PostgreSQL COPY where it is available, one prepared executemany elsewhere (SQLite).

Either way a write of N rows is one statement, not N queries, and the number of queries of a run does
not grow with the number of records.
"""

import json
import os

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
        json_at = {i for i, f in enumerate(model_fields) if isinstance(f, models.JSONField)}
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {_quote(opts.db_table)} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(rows), 20_000):
                    copy.write(_copy_text(rows[start : start + 20_000], json_at))
        return
    prepared = [
        tuple(f.get_db_prep_save(v, connection) for f, v in zip(model_fields, row, strict=True)) for row in rows
    ]
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {_quote(opts.db_table)} ({columns}) VALUES ({placeholders})", prepared)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def _column_text(values: tuple, is_json: bool) -> list[str]:
    """One column in COPY's text format. PostgreSQL reads str(True) as true and str(datetime) as a
    timestamp; repeated values (the run's timestamp, the school id) are converted once, and the escaping
    pass runs only when the column holds a backslash, tab or newline at all."""
    null = "\\N"
    if is_json:
        out = [null if v is None else "{}" if v == {} else _encode_json(v) for v in values]
    else:
        memo: dict = {}
        out = [
            v if v.__class__ is str else null if v is None else memo.get(v) or memo.setdefault(v, str(v))
            for v in values
        ]
    joined = "".join(out)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        out = [v if v is null else v.translate(_ESCAPES) for v in out]
    return out


def _copy_text(rows: list[tuple], json_at: set[int]) -> str:
    """A whole batch as COPY text in one string: psycopg's write_row per row costs several times more."""
    columns = [_column_text(col, i in json_at) for i, col in enumerate(zip(*rows, strict=True))]
    return "\n".join(["\t".join(line) for line in zip(*columns, strict=True)]) + "\n"


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
        if connection.vendor == "postgresql" and not any(isinstance(f, models.JSONField) for f in model_fields):
            _update_unnest(opts, model_fields, names, items)
            continue
        sets = ", ".join(f"{_quote(f.column)} = %s" for f in model_fields)
        params = [
            tuple(f.get_db_prep_save(values[n], connection) for f, n in zip(model_fields, names, strict=True))
            + (pk.get_db_prep_save(key, connection),)
            for key, values in items
        ]
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {_quote(opts.db_table)} SET {sets} WHERE {_quote(pk.column)} = %s", params)


def _update_unnest(opts, model_fields, names, items) -> None:
    """PostgreSQL: one UPDATE ... FROM unnest(arrays) per group; executemany sends a statement per row."""
    pk = opts.pk
    every = [pk, *model_fields]
    arrays = [[pk.get_db_prep_save(key, connection) for key, _values in items]] + [
        [f.get_db_prep_save(values[n], connection) for _key, values in items]
        for f, n in zip(model_fields, names, strict=True)
    ]
    sources = ", ".join(f"%s::{f.db_type(connection)}[]" for f in every)
    aliases = ", ".join(f"c{i}" for i in range(len(every)))
    sets = ", ".join(f"{_quote(f.column)} = v.c{i}" for i, f in enumerate(every) if i)
    table = _quote(opts.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM unnest({sources}) AS v({aliases})"
            f" WHERE {table}.{_quote(pk.column)} = v.c0",
            arrays,
        )


def new_ids(n: int) -> list[str]:
    """n random (version 4) UUIDs as text, from one read of the OS's randomness: uuid.uuid4() per row
    costs more than the COPY that writes it."""
    raw = os.urandom(16 * n).hex()
    out = []
    for i in range(0, 32 * n, 32):
        h = raw[i : i + 32]
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return out


def pk_chunks(ids: list, size: int = BATCH):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
