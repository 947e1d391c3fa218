"""The collection parameters of OneRoster 1.2 REST (section 3 of the REST binding): filter, sort/orderBy,
fields, limit/offset, applied to the records a selector built. Each bad parameter is a RosterError naming the
spec's code minor (invalid_filter_field, invalid_sort_field, invalid_selection_field, invaliddata), which the
view answers 400 with the spec's status-info body; nothing a client sends is a 500.

Filter grammar: `field op 'value'` with op one of = != > >= < <= ~ (contains), joined by AND / OR (AND binds
first; the spec has no brackets). Values compare as text, so ISO dates compare in time order; booleans as
'true'/'false'. A field holding a list (grades) matches when any item does.
"""

import re
from dataclasses import dataclass

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # a larger limit is served as this: paging keeps each answer bounded

_CLAUSE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.]*)\s*(!=|>=|<=|=|>|<|~)\s*'((?:[^']|'')*)'\s*$")
_JOINER = re.compile(r"\s+(AND|OR)\s+")


class RosterError(Exception):
    def __init__(self, status: int, code_minor: str, description: str):
        super().__init__(description)
        self.status, self.code_minor, self.description = status, code_minor, description


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _compare(actual: str, op: str, wanted: str) -> bool:
    if op == "~":
        return wanted.lower() in actual.lower()
    return {
        "=": actual == wanted,
        "!=": actual != wanted,
        ">": actual > wanted,
        ">=": actual >= wanted,
        "<": actual < wanted,
        "<=": actual <= wanted,
    }[op]


def _matches(record: dict, clause: Clause) -> bool:
    value = record.get(clause.field)
    if isinstance(value, list):
        return any(_compare(_text(v), clause.op, clause.value) for v in value)
    return _compare(_text(value), clause.op, clause.value)


def parse_filter(text: str, fields: set[str]) -> list[list[Clause]]:
    """'a=1 AND b=2 OR c=3' -> [[a, b], [c]]: any group whose clauses all hold."""
    parts = _JOINER.split(text.strip())
    groups: list[list[Clause]] = [[]]
    for i, part in enumerate(parts):
        if i % 2 == 1:
            if part == "OR":
                groups.append([])
            continue
        found = _CLAUSE.match(part)
        if not found:
            raise RosterError(
                400, "invalid_filter_field", f"The filter {part.strip()!r} is not field, operator, 'value'."
            )
        field, op, value = found.group(1), found.group(2), found.group(3).replace("''", "'")
        if field not in fields:
            raise RosterError(400, "invalid_filter_field", f"{field} is not a field that can be filtered on here.")
        groups[-1].append(Clause(field, op, value))
    return groups


def _int(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RosterError(400, "invaliddata", f"{name} must be a whole number.") from None
    if value < (1 if name == "limit" else 0):
        raise RosterError(400, "invaliddata", f"{name} is out of range.")
    return value


@dataclass
class Page:
    records: list[dict]
    total: int
    limit: int
    offset: int


def collection(records: list[dict], params, *, filterable: set[str], known: set[str]) -> Page:
    """The records this request asks for: filtered, sorted, one page of them, only the fields asked for."""
    if params.get("filter"):
        groups = parse_filter(params["filter"], filterable)
        records = [r for r in records if any(all(_matches(r, c) for c in group) for group in groups)]
    sort = params.get("sort")
    order = (params.get("orderBy") or "asc").lower()
    if order not in ("asc", "desc"):
        raise RosterError(400, "invaliddata", "orderBy is asc or desc.")
    if sort:
        if sort not in filterable:
            raise RosterError(400, "invalid_sort_field", f"{sort} is not a field that can be sorted on here.")
        records = sorted(records, key=lambda r: _text(r.get(sort)).lower(), reverse=order == "desc")
    limit = min(_int(params, "limit", DEFAULT_LIMIT), MAX_LIMIT)
    offset = _int(params, "offset", 0)
    wanted = wanted_fields(params, known)
    page = records[offset : offset + limit]
    return Page(records=[select_fields(r, wanted) for r in page], total=len(records), limit=limit, offset=offset)


def wanted_fields(params, known: set[str]) -> list[str]:
    """The fields= list, checked against what this kind of record has; [] means every field."""
    wanted = [f.strip() for f in (params.get("fields") or "").split(",") if f.strip()]
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise RosterError(400, "invalid_selection_field", f"{', '.join(unknown)}: no such field here.")
    return wanted


def select_fields(record: dict, wanted: list[str]) -> dict:
    return {f: record.get(f) for f in wanted} if wanted else record
