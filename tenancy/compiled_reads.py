"""Reads asked on every school's night, built and compiled by the ORM once per process instead of every night.

A quiet school's night is about twenty small queries, and the ORM's building and compiling of each costs the
worker more CPU than PostgreSQL spends answering it (docs/scale.md, issue 23). A read whose SQL has the same
shape every night, only its values changing (the school, tonight's date), is written once as an ordinary
queryset, in a function of those values. The first time it is asked, the function is called twice with two
sets of stand-in values and both querysets are compiled: the SQL must come out the same, and the parameters
that differ must be exactly the values (adapted for the database as the ORM adapts them), or it refuses,
loudly, before running anything. From then on each call sends that SQL with the new values. The rule stays in
one place, the queryset; only its compilation is kept.

Scoping: the stand-ins are compiled with scopes disabled; each call checks the scope the way django-scopes'
managers do (a school in scope, or scopes disabled, or ScopeError), and, with a school in scope, that the
school asked about is that school.
"""

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.transaction import TransactionManagementError
from django_scopes import get_scope, scopes_disabled
from django_scopes.exceptions import ScopeError

# The kinds of value a read may take, each with a field that adapts it for the database as the ORM's lookups
# do (a UUID as text on SQLite, a datetime made naive UTC there), and a random stand-in of that kind.
_KINDS: dict[str, tuple[models.Field, Callable[[random.Random], Any]]] = {
    "uuid": (models.UUIDField(), lambda r: uuid.UUID(int=r.getrandbits(128))),
    "date": (models.DateField(), lambda r: date(1100, 1, 1) + timedelta(days=r.randrange(250_000))),
    "datetime": (
        models.DateTimeField(),
        lambda r: (
            datetime(1100, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randrange(10**10), microseconds=r.randrange(10**6))
        ),
    ),
    "int": (models.BigIntegerField(), lambda r: r.randrange(10**12, 10**15)),
}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    template: tuple[tuple[bool, Any], ...]  # (is a value, its name) or (constant, the parameter)
    compiler: Any
    for_update: bool
    rows: Callable[[Any, str, list], list]


class CompiledRead:
    """`build(**values)` returns the queryset (model instances, or values_list tuples); `values` names each
    value's kind ("uuid", "date", "datetime", "int"). Calling the read with those values returns the rows as a
    list, as list(queryset) would. One of the values is the school's key, `school_id`, and the queryset must
    keep to that school: compiled with scopes disabled, it has not the filter a scoped manager would add, and
    each call checks `school_id` against the school in scope instead."""

    def __init__(self, name: str, build: Callable[..., models.QuerySet], **values: str):
        unknown = set(values.values()) - set(_KINDS)
        if unknown:
            raise ImproperlyConfigured(f"{name}: unknown kinds {sorted(unknown)}")
        if values.get("school_id") != "uuid":
            raise ImproperlyConfigured(f"{name}: a compiled read names its school (school_id='uuid')")
        self.name, self.build, self.values = name, build, values
        self._compiled: dict[str, _Compiled] = {}

    def __call__(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> list:
        if set(values) != set(self.values):
            raise TypeError(f"{self.name} takes {sorted(self.values)}, was given {sorted(values)}")
        _check_scope(self.name, values["school_id"])
        connection = connections[using]
        compiled = self._compiled.get(using) or self._compile(using)
        if compiled.for_update and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = [
            _KINDS[self.values[part]][0].get_db_prep_value(values[part], connection) if is_value else part
            for is_value, part in compiled.template
        ]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return compiled.rows(compiled.compiler, using, rows)

    def _compile(self, using: str) -> _Compiled:
        connection = connections[using]
        rng = random.Random()
        samples = [{name: _KINDS[kind][1](rng) for name, kind in self.values.items()} for _ in range(2)]
        made = []
        for sample in samples:
            with scopes_disabled():
                queryset = self.build(**sample)
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            made.append((queryset, compiler, sql, list(params)))
        (queryset, compiler, sql, params), (_, _, other_sql, other_params) = made
        if sql != other_sql or len(params) != len(other_params):
            raise ImproperlyConfigured(f"{self.name}: its SQL changes with its values; it cannot be compiled once")
        adapted = [
            {name: _KINDS[self.values[name]][0].get_db_prep_value(value, connection) for name, value in sample.items()}
            for sample in samples
        ]
        template = []
        for first, second in zip(params, other_params, strict=True):
            if first == second:
                template.append((False, first))
                continue
            names = [n for n in self.values if adapted[0][n] == first and adapted[1][n] == second]
            if len(names) != 1:
                raise ImproperlyConfigured(
                    f"{self.name}: a parameter ({first!r}) changes with the values but is none of them as given: "
                    "pass what the query compares, not a value worked out from it"
                )
            template.append((True, names[0]))
        if queryset._iterable_class is ModelIterable:
            rows = _model_rows(compiler, using)
        elif queryset._iterable_class is ValuesListIterable:
            rows = _tuple_rows
        else:
            raise ImproperlyConfigured(f"{self.name}: only model instances and values_list tuples are supported")
        for_update = bool(queryset.query.select_for_update) and connection.features.has_select_for_update
        compiled = _Compiled(sql, tuple(template), compiler, for_update, rows)
        self._compiled[using] = compiled
        return compiled


def _check_scope(name: str, school_id) -> None:
    """As a django-scopes manager would: a school in scope or scopes disabled; and never another school's rows."""
    scope = get_scope()
    if not scope.get("_enabled", True):
        return
    if "school" not in scope:
        raise ScopeError(f"A scope on dimension(s) school needs to be active for {name}.")
    school = scope["school"]
    if school is not None and _uuid(getattr(school, "pk", school)) != _uuid(school_id):
        raise ScopeError(f"{name} was asked about another school than the one in scope.")


def _uuid(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _tuple_rows(compiler, using: str, rows: list) -> list:
    return list(compiler.results_iter([rows], tuple_expected=True))


def _model_rows(compiler, using: str) -> Callable[[Any, str, list], list]:
    """As Django's ModelIterable builds instances (select_related and annotations included), from rows given."""
    select, klass_info, annotations = compiler.select, compiler.klass_info, compiler.annotation_col_map
    model = klass_info["model"]
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    names = [column[0].target.attname for column in select[start:end]]
    populators = get_related_populators(klass_info, select, using)

    def rows_to_models(compiler, using: str, rows: list) -> list:
        found = []
        for row in compiler.results_iter([rows]):
            obj = model.from_db(using, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for attr, position in (annotations or {}).items():
                setattr(obj, attr, row[position])
            found.append(obj)
        return found

    return rows_to_models
