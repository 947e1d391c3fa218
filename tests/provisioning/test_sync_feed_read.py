"""The feed reader's rows, read as 100,000 are read each night: a date read once for every row that holds it,
names searched for control characters only when they are not plain printable ASCII, ASCII codes taken as
they are. Each row still says its own problem."""

from datetime import date

from provisioning.sync.feeds import ParsedFeed, read_links, read_people

HEADER = ["mis_code", "given_name", "family_name", "year_group", "date_of_birth", "leaving_date"]
TODAY = date(2026, 12, 6)


def _people(rows, order="iso"):
    feed = ParsedFeed(file_format="rollcall_csv")
    people = read_people(feed, "students", "student", [list(HEADER), *[list(r) for r in rows]], TODAY, order)
    return feed, {p["mis_code"]: p for p in people}


def test_each_row_with_the_same_bad_date_says_so_on_its_own_row():
    feed, people = _people([
        ["S1", "Ann", "Lee", "7", "31/02/2012", ""],
        ["S2", "Bob", "Lee", "7", "31/02/2012", ""],
        ["S3", "Cat", "Lee", "7", "2012-05-01", "2026-13-01"],
        ["S4", "Dan", "Lee", "7", "2012-05-01", "2026-13-01"],
    ])  # fmt: skip
    where = [w.split(":")[0] for w in feed.warnings]
    assert where == ["students row 2, date_of_birth", "students row 3, date_of_birth"]
    assert [(e["row"], e["column"]) for e in feed.errors] == [(4, "leaving_date"), (5, "leaving_date")]
    assert sorted(people) == ["S1", "S2"]


def test_a_leaving_date_read_once_decides_every_row_that_holds_it():
    _feed, people = _people([
        ["S1", "Ann", "Lee", "7", "", "2026-12-06"],
        ["S2", "Bob", "Lee", "7", "", "2026-12-06"],
        ["S3", "Cat", "Lee", "7", "", "2026-12-07"],
        ["S4", "Dan", "Lee", "7", "", "07/12/2026"],
    ], order="dmy")  # fmt: skip
    assert {code: p["active"] for code, p in people.items()} == {"S1": False, "S2": False, "S3": True, "S4": True}


def test_control_characters_in_names_are_refused_in_ascii_and_beyond():
    feed, people = _people([
        ["S1", "Ann\tMarie", "Lee", "7", "", ""],
        ["S2", "Bob", "Lee\x7f", "7", "", ""],
        ["S3", "Cat", "Lee\u202e", "7", "", ""],
        ["S4", "Zoë", "O'Brien-Smith", "7", "", ""],
        ["S5", "~Dan^", "Lee", "7", "", ""],
    ])  # fmt: skip
    assert [(e["row"], e["column"]) for e in feed.errors] == [(2, "given_name"), (3, "given_name"), (4, "given_name")]
    assert sorted(people) == ["S4", "S5"]


def test_codes_beyond_ascii_are_spelled_once_and_invisible_ones_refused():
    feed, people = _people([["Ｓ１", "Ann", "Lee", "7", "", ""], ["S\u200b2", "Bob", "Lee", "7", "", ""]])
    assert sorted(people) == ["S1"]
    assert [(e["row"], e["column"]) for e in feed.errors] == [(3, "mis_code")]
    links = read_links(ParsedFeed(file_format="rollcall_csv"), [["contact_code", "student_code"], ["Ｃ１", " S1 "]])
    assert [(x["contact_code"], x["student_code"]) for x in links] == [("C1", "S1")]
