"""Charts drawn on the server as SVG: no chart library, no CDN (the product runs offline), nothing to run in the
browser. These functions only do the geometry; templates/_chart_columns.html and _chart_shares.html draw it,
each bar or segment a link to what it counts, and each chart comes with its figures as a table (the text
alternative)."""

from dataclasses import dataclass, field


@dataclass
class Series:
    key: str
    label: str


@dataclass
class Column:
    label: str  # under the column, and the start of its link's name
    href: str
    values: dict[str, int] = field(default_factory=dict)
    note: str = ""  # added to the link's name and the table, not under the column


def column_chart(columns: list[Column], series: list[Series], *, height: int = 160, width: int = 640) -> dict:
    """Stacked columns, oldest on the left: each column's segments bottom-up in the order of `series`."""
    top = max([sum(c.values.get(s.key, 0) for s in series) for c in columns] + [1])
    slot = min(width / max(len(columns), 1), 80)
    width = max(round(slot * len(columns)), 240)  # drawn at its own size: a few columns make a small chart
    bar = max(min(slot * 0.7, 40), 2)
    drawn = []
    every = max(1, -(-len(columns) // 5))  # at most 5 labels under the columns, so they never overlap
    for i, col in enumerate(columns):
        y, segments = float(height), []
        for n, s in enumerate(series):
            count = col.values.get(s.key, 0)
            if not count:
                continue
            h = max(count / top * height, 1.5)
            y -= h
            segments.append({"y": round(y, 1), "height": round(h, 1), "css": f"series-{n}", "count": count})
        words = ", ".join(f"{s.label} {col.values[s.key]}" for s in series if col.values.get(s.key)) or "no changes"
        drawn.append(
            {
                "x": round(i * slot + (slot - bar) / 2, 1),
                "width": round(bar, 1),
                "href": col.href,
                "name": f"{col.label}{col.note}: {words}",
                "segments": segments,
                "label": col.label,
                "note": col.note,
                "values": [col.values.get(s.key, 0) for s in series],
                "centre": round(i * slot + slot / 2, 1),
                "show_label": (len(columns) - 1 - i) % every == 0,  # the newest column always labelled
                "total": sum(col.values.get(s.key, 0) for s in series),
                "top": round(y, 1),
            }
        )
    return {
        "width": width,
        "height": height,
        "top": top,
        "columns": drawn,
        "series": [{"label": s.label, "css": f"series-{n}"} for n, s in enumerate(series)],
    }


@dataclass
class Share:
    label: str
    count: int
    href: str = ""


def share_bar(label: str, shares: list[Share]) -> dict:
    """One bar split into its parts (percent widths): the states of one kind of person."""
    total = sum(s.count for s in shares)
    x, parts = 0.0, []
    for n, s in enumerate(shares):
        w = s.count / total * 100 if total else 0
        parts.append(
            {
                "x": round(x, 3),
                "width": round(w, 3),
                "css": f"series-{n}",
                "label": s.label,
                "count": s.count,
                "href": s.href,
                "name": f"{label}, {s.label}: {s.count}",
            }
        )
        x += w
    return {"label": label, "total": total, "parts": parts}
