"""Set-based reads and writes: PostgreSQL COPY where it is available, one prepared executemany elsewhere (SQLite).

Either way a write of N rows is one statement, not N queries, and the number of queries of a run does
not grow with the number of records.
"""

import contextvars
import gc
import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL

from tenancy.sql import pg_array  # noqa: F401 - the sync modules take it from here

IN_BATCH = 900  # values in one __in lookup: under SQLite's default limit on query parameters


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_rows(model: type[models.Model], fields: list[str], rows: list[tuple], *, same: dict | None = None) -> None:
    """Write rows of `fields`; `same` holds the fields that have one value for every row (the school, the
    run's time), given once instead of in each row."""
    if not rows:
        return
    same = same or {}
    opts = model._meta
    names = [*fields, *same]
    model_fields = [opts.get_field(f) for f in names]
    if connection.vendor == "postgresql":
        _copy_rows(opts, model_fields, list(zip(*rows, strict=True)), list(same.values()), len(rows))
        return
    extra = tuple(same.values())
    prepared = [
        tuple(f.get_db_prep_save(v, connection) for f, v in zip(model_fields, (*row, *extra), strict=True))
        for row in rows
    ]
    columns = ", ".join(_quote(f.column) for f in model_fields)
    placeholders = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {_quote(opts.db_table)} ({columns}) VALUES ({placeholders})", prepared)


COPY_BATCH = 20_000
# PostgreSQL keeps each foreign-key check's plan for the connection's life (a worker keeps its connection
# between tasks). One made while a table held a handful of rows may read a school's every row for each row it
# checks (an index on the school alone costs the same as the key's own on a tiny table); it stayed in use as
# the school grew, and a 10,000-person upload's commit took 4.5 s, then 11.5 s, then 18.5 s. After a write of
# this many rows, cached plans are dropped (DISCARD PLANS: each is planned again when next used, at once,
# here the checks of the rows just written) for the table as it now is. Small writes leave them: a small
# school's night is a few milliseconds, and a stale plan costs it little.
REPLAN_AFTER = 1_000


def _copy_rows(opts, model_fields, columns: list[tuple], same: list, n: int) -> None:
    is_json = [isinstance(f, models.JSONField) for f in model_fields]
    order, batches = copy_layout(columns, same, is_json, n)
    names = ", ".join(_quote(model_fields[i].column) for i in order)
    _checks_settled()
    # Django's own error classes (IntegrityError...), as from any other query: callers catch those, not
    # psycopg's, which the raw COPY would raise.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {_quote(opts.db_table)} ({names}) FROM STDIN") as copy:
            for text in batches:
                copy.write(text)
        if n >= REPLAN_AFTER:
            cursor.execute("DISCARD PLANS")
    _checks_start()


# --- foreign-key checks while Python works --------------------------------------------------------------

_aside = threading.local()


@contextmanager
def checks_aside():
    """PostgreSQL: the deferred foreign-key checks of each COPY inside run on the database right after it,
    while Python builds the next rows, instead of all at the commit with Python waiting.

    The same checks, in the same transaction: only when they run changes (SET CONSTRAINTS ALL IMMEDIATE
    fires the pending ones; ALL DEFERRED puts back the schema's own mode, every deferrable constraint being
    INITIALLY DEFERRED). So each COPY inside must write rows whose parents are written already (the apply
    writes accounts, memberships, then what hangs off them). They run in a thread on the raw psycopg
    connection, which serialises its users: any query of this thread meanwhile waits for them (Django's
    through an execute wrapper, which first raises a failed check as Django's IntegrityError, as a
    commit would; COPY through _checks_settled). Leaving the block waits for the last ones, failed or not."""
    if connection.vendor != "postgresql" or getattr(_aside, "active", False):
        yield
        return
    _aside.active, _aside.pending = True, None
    try:
        with connection.execute_wrapper(_settled_first):
            yield
    finally:
        _aside.active = False
        pending, _aside.pending = _aside.pending, None
        if pending is not None:
            pending[0].join()
    if pending is not None and pending[1]:
        _raise(pending[1][0])


def _checks_start() -> None:
    if not getattr(_aside, "active", False):
        return
    raw, failed = connection.connection, []

    def check():
        try:
            raw.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        except BaseException as exc:  # raised in the caller's thread (_checks_settled)
            failed.append(exc)

    thread = threading.Thread(target=check, name="rollcall-fk-checks", daemon=True)
    thread.start()
    _aside.pending = (thread, failed)


def _checks_settled() -> None:
    pending = getattr(_aside, "pending", None)
    if not pending:
        return
    _aside.pending = None
    thread, failed = pending
    thread.join()
    if failed:
        _raise(failed[0])


def _raise(exc) -> None:
    with connection.wrap_database_errors:
        raise exc


class ReadAside:
    """A read sent to PostgreSQL now and fetched when needed (rows()), so the database works on it while Python
    goes on: the planner's reads of a night's changed people and their links (incremental.py), each 50 to 70 ms
    of the server's time for a 5% night of 100,000 people, beside as much of Python's comparing feed lines.

    It runs in a thread on the run's raw psycopg connection, in its transaction: the connection serialises its
    users, so any other query meanwhile waits for it. Rows are psycopg's tuples; a failure is raised by rows(),
    as Django's error classes. PostgreSQL only (ReadAside.of holds rows read another way)."""

    def __init__(self, sql: str, params):
        self.rows_read, self.error, self.thread = None, None, None
        _checks_settled()
        connection.ensure_connection()
        raw = connection.connection

        def read():
            try:
                with raw.cursor() as cursor:
                    cursor.execute(sql, params)
                    self.rows_read = cursor.fetchall()
            except BaseException as exc:  # raised in the caller's thread (rows)
                self.error = exc

        self.thread = threading.Thread(target=read, name="rollcall-read-aside", daemon=True)
        self.thread.start()

    @classmethod
    def of(cls, rows: list[tuple]) -> "ReadAside":
        """Rows read already (another database's way), for a caller that takes either."""
        read = cls.__new__(cls)
        read.rows_read, read.error, read.thread = rows, None, None
        return read

    def rows(self) -> list[tuple]:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            _raise(self.error)
        return self.rows_read


def _settled_first(execute, sql, params, many, context):
    _checks_settled()
    return execute(sql, params, many, context)


def copy_layout(columns: list[tuple], same: list, is_json: list[bool], n: int):
    """COPY text for n rows given column by column, as (the order of the columns, an iterator of batches).

    Columns holding one value for every row (given in `same`, or found so: the school, the run, an empty
    "before") go last in COPY's column list and are written as one suffix of each line, converted and
    escaped once; the others are converted column by column (_column_text)."""
    varying, fixed = [], []
    for i, column in enumerate(columns):
        # First against last: a varying column (ids, names) is told so at once, without a pass over it.
        constant = column[0] == column[-1] and column.count(column[0]) == n
        (fixed if constant else varying).append(i)
    fixed_text = [_cell_text(columns[i][0], is_json[i]) for i in fixed]
    fixed_text += [_cell_text(v, is_json[len(columns) + j]) for j, v in enumerate(same)]
    fixed += range(len(columns), len(columns) + len(same))
    if not varying:
        return fixed, iter([("\t".join(fixed_text) + "\n") * n])
    end = "".join("\t" + t for t in fixed_text) + "\n"

    def batches():
        for start in range(0, n, COPY_BATCH):
            texts = [_column_text(columns[i][start : start + COPY_BATCH], is_json[i]) for i in varying]
            yield end.join(map("\t".join, zip(*texts, strict=True))) + end

    return varying + fixed, batches()


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_BOOL = {True: "t", False: "f", None: _NULL}


def _json_encoder():
    """The json module's C encoder called directly: JSONEncoder.encode's Python layers around it cost
    more than the encoding of a small dict. The same text (jsonb keeps no formatting anyway)."""
    encoder = json.JSONEncoder(ensure_ascii=False)
    make = json.encoder.c_make_encoder
    if make is None:
        return encoder.encode
    chunks = make(None, encoder.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return lambda value: "".join(chunks(value, 0))


_encode_json = _json_encoder()


def _escaped(text: str) -> str:
    return text.translate(_ESCAPES) if "\\" in text or "\t" in text or "\n" in text or "\r" in text else text


def _cell_text(value, is_json: bool) -> str:
    if value is None:
        return _NULL
    if is_json:
        return _escaped(_encode_json(value))
    if value.__class__ is bool:
        return _BOOL[value]
    return _escaped(value if value.__class__ is str else str(value))


def _column_text(values: tuple, is_json: bool):
    """One column in COPY's text format, by the cheapest path its types allow: text passes as it is,
    booleans through a table, anything else (ids, timestamps) through a memo, so a value repeated down the
    column is converted once. The escaping pass runs only when the column holds a backslash, tab or
    newline at all."""
    kinds = () if is_json else set(map(type, values))
    if is_json:
        out = [_NULL if v is None else "{}" if v == {} else _encode_json(v) for v in values]
    elif kinds <= _TEXT:
        out = values if _NONE not in kinds else [_NULL if v is None else v for v in values]
    elif kinds <= _BOOLS:
        return list(map(_BOOL.__getitem__, values))
    else:
        memo = {None: _NULL}
        out = [v if v.__class__ is str else memo.get(v) or memo.setdefault(v, str(v)) for v in values]
    joined = "".join(out)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return [v if v is _NULL else v.translate(_ESCAPES) for v in out]
    return out


_NONE = type(None)
_TEXT = {str, _NONE}
_BOOLS = {bool, _NONE}


def update_rows(model: type[models.Model], key_values: list[tuple[object, dict]]) -> None:
    """Different values per row. PostgreSQL: one UPDATE for all the rows (_update_unnest). Elsewhere: rows
    changing the same fields share one prepared UPDATE (executemany)."""
    opts = model._meta
    pk = opts.pk
    rows = [(key, values) for key, values in key_values if values]
    if not rows:
        return
    if connection.vendor == "postgresql":
        names = sorted({n for _key, values in rows for n in values})
        model_fields = [opts.get_field(n) for n in names]
        if not any(isinstance(f, models.JSONField) for f in model_fields):
            _update_unnest(opts, model_fields, names, rows)
            return
    groups: dict[tuple[str, ...], list] = {}
    for key, values in rows:
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


def _update_unnest(opts, model_fields, names, items) -> None:
    """PostgreSQL: one UPDATE ... FROM unnest(arrays) for every row, whichever of the fields each changes (a
    field only some rows change comes with an array of flags: the others keep their value). One statement,
    not one per set of fields: each statement on a school's tables runs the change triggers (migration
    provisioning 0007), planned afresh, and a 5% night changed accounts in three sets of fields."""
    pk = opts.pk
    table = _quote(opts.db_table)
    arrays, sources, sets = [[pk.get_db_prep_save(key, connection) for key, _values in items]], [], []
    sources.append(f"%s::{pk.db_type(connection)}[]")
    for f, n in zip(model_fields, names, strict=True):
        column, i = _quote(f.column), len(arrays)
        arrays.append([f.get_db_prep_save(values[n], connection) if n in values else None for _key, values in items])
        sources.append(f"%s::{f.db_type(connection)}[]")
        if all(n in values for _key, values in items):
            sets.append(f"{column} = v.c{i}")
            continue
        arrays.append([n in values for _key, values in items])
        sources.append("%s::boolean[]")
        sets.append(f"{column} = CASE WHEN v.c{i + 1} THEN v.c{i} ELSE {table}.{column} END")
    aliases = ", ".join(f"c{i}" for i in range(len(arrays)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(sets)} FROM unnest({', '.join(sources)}) AS v({aliases})"
            f" WHERE {table}.{_quote(pk.column)} = v.c0",
            arrays,
        )


def new_ids(n: int) -> list[str]:
    """n new time-ordered UUIDs (version 7, RFC 9562) as text, in ascending order.

    Ordered keys land at the right-hand end of each B-tree that holds them (primary keys, and the account
    and membership ids the other tables index), where random ones (version 4) are spread over every page: a
    100,000-person first import ran 5-6% faster so (10.2-10.7 s against 10.9-11.4 s). The time they carry
    is the creation time, which Rollcall shows anyway; the other 74 bits are random, so an id is no easier
    to guess. Made from one read of the OS's randomness and laid out with a few whole-buffer operations
    instead of formatting each one (uuid.uuid4() per row costs more than the COPY that writes it): the hex
    digits in groups of four, the three dashes inside a UUID's first and last groups taken out, then the
    milliseconds, the version digit and the variant bits set."""
    if n <= 0:
        return []
    text = bytearray(os.urandom(16 * n).hex("-", 2).encode())
    del text[34::40], text[29::39], text[4::38]  # 37 bytes a UUID from here on, its separator included
    millis = f"{time.time_ns() // 1_000_000:012x}".encode()
    for at, digit in zip((0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12), millis, strict=True):
        text[at::37] = bytes([digit]) * n
    text[14::37] = b"7" * n
    text[19::37] = text[19::37].translate(_VARIANT)
    text[36::37] = b"\n" * (n - 1)
    return sorted(text.decode().split("\n"))


_VARIANT = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")


def in_chunks(values, db_type: str):
    """Values for an __in lookup: on PostgreSQL one array parameter (a list of 10,000 codes as 10,000
    parameters costs more to send and parse than the query), elsewhere batches under SQLite's limit."""
    values = sorted(values)
    if not values:
        return
    if connection.vendor == "postgresql":
        yield RawSQL(f"SELECT unnest(%s::{db_type}[])", [pg_array(values)])
        return
    for i in range(0, len(values), IN_BATCH):
        yield values[i : i + IN_BATCH]


def prefer_index_lookups() -> None:
    """For the rest of the sync's transaction, plan queries for memory-resident tables (PostgreSQL).

    A nightly run reads and writes a few thousand of a school's rows, by key. At the default
    random_page_cost (4, a spinning disk's), PostgreSQL costs that many index probes above reading the whole
    table, so it hash-joined against a full scan of 100,000 accounts or memberships for 2,000 leavers or
    renames (20-40 ms a statement, seven times a night). Index probes into pages already in memory are
    nearly as cheap as reading the pages in order; 1.1 is the usual setting for SSD and cached data. Local
    to the transaction: other screens keep the server's setting."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL random_page_cost = 1.1")


# --- Python's cyclic garbage collector --------------------------------------------------------------------


@contextmanager
def collector_paused():
    """The cyclic garbage collector off for the block. A sync's plan or an upload's apply makes a few hundred
    thousand small dicts and tuples that all live until its end: the collector's passes over them find
    nothing, and cost a fifth of a re-sync. Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- rows written on a connection of their own -----------------------------------------------------------


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


@contextmanager
def rows_stored(model, fields: list[str], rows: list[tuple], *, committed: bool, aside_from: int,
                before: Callable[[], object] = lambda: None):  # fmt: skip
    """Rows of `model` stored for the block: written before it, in the caller's transaction; or, when there are
    at least `aside_from` of them, on PostgreSQL, and everything they refer to was committed before the
    caller's transaction began (`committed`: the other connection sees only that), written aside on a
    connection of their own while the block runs, their checks run there at once, and committed as the block
    ends without an error, just before the caller's transaction commits (end the block there), or rolled back
    if it fails. The one window left: the caller's own COMMIT failing after theirs (a lost connection).

    `before` reads the database as it is before the block writes to it (no writes of its own); the block gets a
    handle whose result() is its value: read at once, or aside after the rows (result() then waits), where it
    cannot see the caller's uncommitted writes. Used for a sync's plan records (plan_records.py) and an
    upload's audit events (provisioning.upload.services.apply)."""
    if not committed or connection.vendor != "postgresql" or len(rows) < aside_from:
        insert_rows(model, fields, rows)
        yield _Done(before())
        return
    aside = _RowsAside(model, fields, rows, before)
    try:
        yield aside
    except BaseException:
        aside.finish(commit=False)
        raise
    aside.finish(commit=True)


class _Dropped(Exception):
    """The caller's transaction failed: the rows' transaction is rolled back with it."""


class _RowsAside:
    def __init__(self, model, fields: list[str], rows: list[tuple], before: Callable[[], object]):
        self.model, self.fields = model, fields
        self.rows, self.before, self.commit, self.error, self.value = rows, before, False, None, None
        self.decided, self.read = threading.Event(), threading.Event()
        context = contextvars.copy_context()  # the caller's school scope (django_scopes keeps it in a ContextVar)
        self.thread = threading.Thread(target=context.run, args=(self._write,), name="rollcall-rows-aside",
                                       daemon=True)  # fmt: skip
        self.thread.start()

    def result(self):
        """`before`'s value, once read (an error of the thread's is raised here)."""
        self.read.wait()
        if self.error is not None:
            raise self.error
        return self.value

    def _write(self) -> None:
        # A thread has a Django connection of its own (connections are per thread), closed as it ends.
        try:
            with transaction.atomic():
                prefer_index_lookups()  # as the run's transaction reads
                insert_rows(self.model, self.fields, self.rows)
                self.rows = None
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows' checks, now
                self.value = self.before()
                self.read.set()
                self.decided.wait()
                if not self.commit:
                    raise _Dropped
        except _Dropped:
            pass
        except BaseException as exc:  # raised in the caller's thread, which then rolls back
            self.error = exc
        finally:
            self.read.set()
            connection.close()

    def finish(self, *, commit: bool) -> None:
        """Commit (or roll back) the rows and wait for it; a failure of theirs is raised here, before the
        caller's transaction commits."""
        self.commit = commit
        self.decided.set()
        self.thread.join()
        if commit and self.error is not None:
            raise self.error
