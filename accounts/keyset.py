"""Keyset paging: the page after (or before) a row is read by seeking past that row's sort keys, instead of
skipping every row before it with OFFSET. The Users list (accounts.selectors.user_list_page) pages this way."""

from django.core.paginator import Page
from django.db.models import BooleanField, Expression, Value


class KeysetPage(Page):
    """A page that may have been found by seeking from a row rather than by its number: then whether a page
    comes before or after is known from the rows read, not from the count. `next_after` / `previous_before` are
    the primary keys the Next and Previous links carry."""

    def __init__(self, rows, number, paginator, *, has_previous: bool, has_next: bool):
        super().__init__(rows, number, paginator)
        self._has_previous, self._has_next = has_previous, has_next
        self.next_after = str(rows[-1].pk) if rows and has_next else ""
        self.previous_before = str(rows[0].pk) if rows and has_previous else ""

    def has_next(self):
        return self._has_next

    def has_previous(self):
        return self._has_previous

    def next_page_number(self):
        return min(self.number + 1, self.paginator.num_pages)

    def previous_page_number(self):
        return max(self.number - 1, 1)


def page_beside(listed, position: tuple, number: int, paginator, *, forward: bool) -> KeysetPage | None:
    """The page that follows (or, backwards, precedes) a position; None when there is no such page.

    `listed` is ordered by keys that all run the same way and end on its primary key (a total order); `position`
    holds one row's values of those keys. The leading keys alone, compared with >=, are what an index on them
    can seek to (the primary key is usually not in it, and a row comparison spanning two tables is no index
    condition); the full comparison then drops the rows up to and including the position.
    """
    per_page = paginator.per_page
    descending = listed.query.order_by[-1].descending
    later = forward != descending  # seek towards larger keys
    keys = [order.expression for order in listed.query.order_by]
    seek = listed.filter(_row_compare(keys[:-1], ">=" if later else "<=", position[:-1]))
    seek = seek.filter(_row_compare(keys, ">" if later else "<", position))
    if not forward:
        seek = seek.reverse()
    rows = list(seek[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    # The number shown comes from the link; a page with people before it is never called page 1.
    if forward and rows:
        return KeysetPage(rows, max(number, 2), paginator, has_previous=True, has_next=more)
    if not forward and more:
        return KeysetPage(rows[::-1], max(number, 2), paginator, has_previous=True, has_next=True)
    return None


class _RowCompare(Expression):
    """(a, b, c) > (x, y, z): a row comparison, which PostgreSQL turns into one index seek on (a, b, c) and
    SQLite evaluates as the same lexicographic order."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, lhs: list, op: str, rhs: list):
        super().__init__()
        self.lhs, self.op, self.rhs = lhs, op, rhs

    def get_source_expressions(self):
        return [*self.lhs, *self.rhs]

    def set_source_expressions(self, exprs):
        self.lhs, self.rhs = exprs[: len(self.lhs)], exprs[len(self.lhs) :]

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.lhs = [e.resolve_expression(query, allow_joins, reuse, summarize) for e in self.lhs]
        clone.rhs = [  # values become parameters typed as the key they are compared with (resolved once)
            v if hasattr(v, "resolve_expression") else Value(v, output_field=e.output_field)
            for e, v in zip(clone.lhs, self.rhs, strict=True)
        ]
        return clone

    def as_sql(self, compiler, connection):
        sides, params = [], []
        for side in (self.lhs, self.rhs):
            parts = []
            for expression in side:
                sql, part_params = compiler.compile(expression)
                parts.append(sql)
                params.extend(part_params)
            sides.append(f"({', '.join(parts)})")
        return f"{sides[0]} {self.op} {sides[1]}", params


def _row_compare(keys: list, op: str, values: tuple) -> _RowCompare:
    return _RowCompare(list(keys), op, list(values))
