"""The nightly case, planned from what changed: the feed compared line by line with the feed of the last run
that was applied.

When the school's accounts are exactly as that run left them (the state fingerprint taken right after its apply)
and the policy has not changed since it was planned, a line identical to a line of that run's feed can only plan
as it planned then: unchanged, or the same skip. So only the lines that are new, changed or gone (feed_diff.py)
are parsed and planned, with what the school holds for those people alone; everything else is counted, and the
earlier run's skip records for untouched people are carried over. Leaving dates that came due since are planned again.

When the school was written to since by anyone else (an edit by hand, an upload, another school's transfer), the
fingerprint has moved; on PostgreSQL the change rows then name the memberships those writes touched
(fingerprint.changes_by_hand), and those people are planned again as well, whatever their lines. Where that cannot
be known (SQLite, a deleted membership, an emptied table), it plans in full.

A feed of 100,000 people with 5% changed then costs a few hundred milliseconds to compare instead of reading
every person and every held account. Anything out of the ordinary (another format, a file added or gone, a
changed header, a quoted line break, most of the feed changed, an empty-username skip that another school could
now resolve) returns None, and the caller plans in full. tests/provisioning/test_sync_incremental.py holds both
ways to the same plan.
"""

from datetime import date, timedelta

from django.db import connection

from accounts.models import ContactLink, Membership, RoleAssignment
from provisioning.models import SyncPolicy, SyncRecord, SyncRun
from provisioning.sync import feed_diff, feeds
from provisioning.sync.bulk import IN_BATCH, ReadAside, in_chunks, pg_array
from provisioning.sync.fingerprint import changes_by_hand
from provisioning.sync.plan_item import Outcome, SyncPlan
from provisioning.sync.plan_newcomers import EMPTY_USERNAME, NEEDS_DECISION
from provisioning.sync.state import STATE_FIELDS, STATE_KEYS, SchoolState, fingerprint_and_active, state_row
from provisioning.sync.sync_plan import MISSING, MOVED, make_plan
from tenancy.compiled_reads import CompiledRead

PERSON_FILES, LINK_FILE = feeds.PERSON_FILES, feeds.LINK_FILE
BATCH = IN_BATCH


def plan_changes(*, school, policy, run, content: bytes, today: date | None = None) -> SyncPlan | None:
    """The run's plan from the changes since the last applied run, or None to plan in full."""
    today = today or date.today()
    before = _last_applied(school, run, policy)
    if before is None:
        return None
    new = feed_diff.feed_files(content)
    if new is not None and run.feed.digest and run.feed.digest == before.feed.digest:
        old = new  # the same lines as that run's feed (the nightly case of a quiet school): not read again
    else:
        try:
            with before.feed.file.open("rb") as handle:
                old = feed_diff.feed_files(handle.read())
        except OSError:
            return None
    if new is None or old is None or set(new) != set(old):
        return None
    if any(new[name].header != old[name].header for name in new):
        return None
    fingerprint, active_count = fingerprint_and_active(school)
    by_hand: dict[str, set[str]] = {}
    if fingerprint != before.applied_fingerprint:
        by_hand = _changed_by_hand(school, before)
        if by_hand is None:
            return None
    since = before.planned_at.astimezone().date()
    changes = _Changes(school, policy, new, old, before, today, since, fingerprint)
    changes.state.active_count = active_count
    changes.by_hand.update(by_hand)
    skips, transfers = _records_carried(school, before)
    for record in transfers:
        changes.by_hand[record["person_type"]].add(record["mis_code"])
    return changes.plan(skips)


def _changed_by_hand(school, before: SyncRun) -> dict[str, set[str]] | None:
    """{person type: MIS codes} of the people written to since that run by anyone else (an edit by hand, an
    upload, another school's sync): they are planned again, whatever their lines. None (plan in full) when
    that is not known, or when one has no MIS code (the planner matches those by account, not by line)."""
    ids = changes_by_hand(school, before.applied_fingerprint)
    if ids is None:
        return None
    codes: dict[str, set[str]] = {pt: set() for pt in PERSON_FILES.values()}
    for chunk in in_chunks(ids, "uuid"):
        for person_type, code in Membership.objects.filter(school=school, id__in=chunk).values_list(
            "person_type", "mis_code"
        ):
            if not code:
                return None
            codes[person_type].add(code)
    return codes


RECORD_FIELDS = ["entity", "outcome", "person_type", "mis_code", "membership_id", "account_id", "username",
                 "before", "after", "reason"]  # fmt: skip


# The counts of a run's records _records_carried reads (SyncPlan.add counts a link's as link_<outcome>).
CARRIED_COUNTS = [
    f"{entity}{outcome.value}" for entity in ("", "link_") for outcome in (Outcome.SKIPPED, Outcome.TRANSFER)
]


def _records_carried(school, before: SyncRun) -> tuple[list[dict], list[dict]]:
    """That run's records this plan starts from, in one read (every school plans every night): its skips
    (_Changes._carried_skips), and the people it took over from another school. Their account came with its
    username and details, which the full comparison weighs against what this school holds, whatever their line
    says: they are planned again too (their username stays theirs: username_policy.rename_stem)."""
    skips, transfers = [], []
    counts = before.counts or {}
    if not any(counts.get(key) for key in CARRIED_COUNTS):
        return skips, transfers  # its counts say it has none (a plan counts each of its items): nothing to read
    records = SyncRecord.objects.filter(school=school, run=before, outcome__in=[Outcome.SKIPPED, Outcome.TRANSFER])
    for record in records.order_by("id").values(*RECORD_FIELDS):
        if record["outcome"] == Outcome.SKIPPED:
            skips.append(record)
        elif record["mis_code"]:
            transfers.append(record)
    return skips, transfers


def _last_applied(school, run, policy) -> SyncRun | None:
    if run.feed is None or run.feed.file_format != "rollcall_csv":
        return None
    before = next(iter(_LAST_APPLIED(school_id=school.pk, run_id=run.pk)), None)
    if before is None or before.feed is None or before.feed.file_format != "rollcall_csv":
        return None
    if run.feed.errors or before.feed.errors:
        # Rows left out (their people kept as they are, their links too) are decided with the whole feed in
        # view: a night with any of them, or after one, plans in full.
        return None
    if not before.applied_fingerprint or before.planned_at is None or policy.updated_at >= before.planned_at:
        return None
    if policy.date_order != SyncPolicy.DateOrder.ISO:
        return None  # leaving dates that came due are found by their ISO text (_due_lines): compare in full
    if policy.rename_existing:  # renames of people whose lines did not change: only the full comparison sees them
        return None
    return before


# Every night of every school asks it: compiled once (tenancy.compiled_reads).
_LAST_APPLIED = CompiledRead(
    "the last applied run",
    lambda school_id, run_id: (
        SyncRun.objects.filter(school=school_id, state=SyncRun.State.APPLIED, applied_at__isnull=False)
        .exclude(pk=run_id)
        .select_related("feed")
        .order_by("-applied_at")[:1]
    ),
    school_id="uuid",
    run_id="uuid",
)


class _Changes:
    def __init__(self, school, policy, new, old, before, today, since, fingerprint):
        self.school, self.policy, self.new, self.old = school, policy, new, old
        self.before, self.today, self.since, self.fingerprint = before, today, since, fingerprint
        self.feed = feeds.ParsedFeed(file_format="rollcall_csv")
        self.state = SchoolState(fingerprint=fingerprint, links_prefiltered=True)
        self.touched: dict[str, set[str]] = {pt: set() for pt in PERSON_FILES.values()}
        # Of the touched, those whose links may plan otherwise than last time (see _link_touched_settle).
        self.link_touched: dict[str, set[str]] = {pt: set() for pt in PERSON_FILES.values()}
        self.changed: dict[str, set[str]] = {pt: set() for pt in PERSON_FILES.values()}
        self.deleted: dict[str, set[str]] = {pt: set() for pt in PERSON_FILES.values()}
        self.by_hand: dict[str, set[str]] = {pt: set() for pt in PERSON_FILES.values()}  # see _changed_by_hand
        self.gone: dict[str, set[str]] = {pt: set() for pt in PERSON_FILES.values()}
        self.settled = {Outcome.UNCHANGED: 0, "link_unchanged": 0}
        # (contact code, student code) as bytes in the links file's encoding -> the pair's first line
        self.current_pairs: dict[tuple[bytes, bytes], bytes] = {}
        self.link_attention: set[tuple[bytes, bytes]] = set()
        self.link_encoding = "utf-8"
        self.gone_pairs: set[tuple[str, str]] = set()

    def plan(self, skips: list[dict]) -> SyncPlan | None:
        for file_name, person_type in PERSON_FILES.items():
            self.feed.modes[person_type] = "bulk" if file_name in self.new else "absent"
            if file_name in self.new and not self._people(file_name, person_type):
                return None
        self.feed.modes["link"] = "bulk" if LINK_FILE in self.new else "absent"
        carried = self._carried_skips(skips)
        if carried is None:
            return None
        members = self._members_read()  # PostgreSQL reads them while the links file is compared
        compared = self._links_compared() if LINK_FILE in self.new else None
        if compared is False:
            return None
        self._load_members(members)
        self._link_touched_settle()
        if compared is not None and not self._links(carried, compared):
            return None
        self._load_state()
        plan = make_plan(school=self.school, policy=self.policy, feed=self.feed, state=self.state, settled=self.settled)
        for item in carried:
            plan.add(item)
        return plan

    # --- people --------------------------------------------------------------------------------------

    def _people(self, file_name: str, person_type: str) -> bool:
        new, old = self.new[file_name], self.old[file_name]
        added, removed = feed_diff.added_removed(new, old)
        if added is None:
            return False
        code_at = feed_diff.column_at(new, "mis_code")
        skip = set(added)
        attention = added + [
            line for line in self._due_lines(new, feed_diff.column_at(new, "leaving_date")) if line not in skip
        ]
        by_hand = self.by_hand[person_type]
        if by_hand:
            skip.update(attention)
            wanted = {code.encode(new.encoding) for code in by_hand}
            codes = feed_diff.pairs(new, new.lines, code_at, code_at)
            attention += [
                line for line, (code, _) in zip(new.lines, codes, strict=True) if code in wanted and line not in skip
            ]
        scratch = feeds.ParsedFeed(file_format="rollcall_csv")
        people = feeds.read_people(
            scratch,
            file_name,
            person_type,
            [new.header, *feed_diff.read_cells(new, attention)],
            self.today,
            self.policy.date_order,
        )
        if scratch.error_total:
            return False
        self.feed.people[person_type] = people
        here = {p["mis_code"] for p in people}
        removed_codes = {feed_diff.cell_at(cells, code_at) for cells in feed_diff.read_cells(old, removed)} - {""}
        self.touched[person_type] = here | removed_codes | by_hand
        self.gone[person_type] = removed_codes - here
        self.changed[person_type] = here & removed_codes  # a changed line is removed and added: still here
        self.deleted[person_type] = {p["mis_code"] for p in people if p.get("deleted")}
        lines = sum(1 for line in new.lines if line.strip(feed_diff.BLANK))
        self.settled[Outcome.UNCHANGED] += lines - len(people)
        return True

    def _due_lines(self, file: feed_diff.FeedFile, leaving_at: int | None) -> list[bytes]:
        """Lines whose leaving date came due since the earlier run read them (found by the dates' text)."""
        if leaving_at is None or self.since >= self.today:
            return []
        days = (self.today - self.since).days
        if days > 62:
            candidates = file.lines
        else:
            needles = [(self.since + timedelta(days=n)).isoformat().encode() for n in range(1, days + 1)]
            needles = [n for n in needles if n in file.data]
            candidates = [line for line in file.lines if any(n in line for n in needles)] if needles else []
        since, today = self.since.isoformat(), self.today.isoformat()
        return [
            line
            for line, cells in zip(candidates, feed_diff.read_cells(file, candidates), strict=True)
            if since < feed_diff.cell_at(cells, leaving_at) <= today
        ]

    # --- the earlier run's skips -----------------------------------------------------------------------

    def _carried_skips(self, records: list[dict]) -> list[dict] | None:
        """Skips of the earlier run for people (and links) nothing touched plan the same again: carried over."""
        carried = []
        for record in records:
            record = {**record, "membership_id": _text(record["membership_id"]),
                      "account_id": _text(record["account_id"])}  # fmt: skip
            if record["entity"] == "link":
                carried.append(record)  # sorted out with the links
                continue
            person_type, code = record["person_type"], record["mis_code"]
            if code in self.touched.get(person_type, ()):
                continue  # planned again
            if record["reason"] == EMPTY_USERNAME or record["reason"].startswith((MOVED, NEEDS_DECISION)):
                # another school may hold (or have let go of) this person by now, or someone decided on a
                # possible match since: plan in full
                return None
            carried.append(record)
            if not record["reason"].startswith(MISSING):
                self.settled[Outcome.UNCHANGED] -= 1  # a line of the feed, counted above
        return carried

    # --- links ---------------------------------------------------------------------------------------

    def _links_compared(self) -> tuple[set[bytes], dict, set] | bool:
        """The links file's lines new or changed, each pair's first line, and the pairs gone (or planned again);
        False when most of the file changed. Needs nothing the school holds."""
        new, old = self.new[LINK_FILE], self.old[LINK_FILE]
        contact_at, student_at = feed_diff.column_at(new, "contact_code"), feed_diff.column_at(new, "student_code")
        added, removed = feed_diff.added_removed(new, old)
        if added is None:
            return False
        pairs = feed_diff.pairs(new, new.lines, contact_at, student_at)
        first = feed_diff.first_lines(pairs, new.lines)  # each pair's first line, in file order: the one that counts
        gone = set(feed_diff.pairs(old, removed, contact_at, student_at))
        if len(first) < len(pairs) - pairs.count((b"", b"")):
            # A pair on several lines: lines that only swapped places are neither added nor removed, yet another
            # line may now come first. Such pairs are planned again (a file without repeats skips this read).
            old_first = feed_diff.first_lines(feed_diff.pairs(old, old.lines, contact_at, student_at), old.lines)
            gone.update(pair for pair, line in first.items() if old_first.get(pair, line) != line)
        return set(added), first, gone

    def _links(self, carried: list[dict], compared: tuple[set[bytes], dict, set]) -> bool:
        new = self.new[LINK_FILE]
        added, first, gone = compared
        encoding = self.link_encoding = new.encoding
        self.current_pairs = first
        contacts = {code.encode(encoding) for code in self.link_touched["contact"]}
        students = {code.encode(encoding) for code in self.link_touched["student"]}
        carried_pairs = set()
        for record in list(carried):
            if record["entity"] != "link":
                continue
            pair = (record["mis_code"].encode(encoding), record["after"].get("student_code", "").encode(encoding))
            if pair in first and (pair[0] in contacts or pair[1] in students or first[pair] in added or pair in gone):
                carried.remove(record)  # planned again below
            elif pair in first:
                carried_pairs.add(pair)
            else:
                carried.remove(record)
        attention_lines = (
            [
                line
                for pair, line in first.items()
                if line in added or pair[0] in contacts or pair[1] in students or pair in gone
            ]
            if added or contacts or students or gone
            else []
        )
        scratch = feeds.ParsedFeed(file_format="rollcall_csv")  # no modes: ends were checked on receipt
        rows = feed_diff.read_cells(new, attention_lines)
        self.feed.links = feeds.read_links(scratch, [new.header, *rows])
        if scratch.error_total:
            return False
        self.link_attention = {
            (x["contact_code"].encode(encoding), x["student_code"].encode(encoding)) for x in self.feed.links
        }
        self.gone_pairs = {(c.decode(encoding), t.decode(encoding)) for c, t in gone - set(first)}
        self.settled["link_unchanged"] = len(first) - len(self.link_attention) - len(carried_pairs)
        return True

    # --- what the school holds for those people --------------------------------------------------------

    def _members_read(self) -> ReadAside | None:
        """PostgreSQL: the touched people's memberships, accounts and roles, one query for the three person
        types (every school plans every night), sent now and read by _load_members. None elsewhere, or when
        nobody is touched."""
        if connection.vendor != "postgresql":
            return None
        wanted = {(pt, code) for pt, codes in self.touched.items() for code in codes if code}
        if not wanted:
            return None
        types, codes = sorted({pt for pt, _ in wanted}), sorted({code for _, code in wanted})
        return ReadAside(MEMBERS_PG, [self.school.pk, pg_array(types), pg_array(codes)])

    def _load_members(self, read: ReadAside | None) -> None:
        """The touched people's memberships, accounts and roles: what the planner compares them with."""
        members = self.state.members
        if connection.vendor == "postgresql":
            if read is None:
                return
            roles = self.state.roles
            touched = self.touched
            for *values, role_ids in read.rows():
                row = dict(zip(STATE_KEYS, values, strict=True))
                # a code another type also uses may come back for that type too, and is left out here
                if row["mis_code"] not in touched[row["person_type"]]:
                    continue
                members[(row["person_type"], row["mis_code"])] = row
                if role_ids:
                    roles[row["id"]].update(role_ids)
            return
        for person_type, codes in self.touched.items():
            for chunk in in_chunks(codes - {""}, "text"):
                rows = Membership.objects.filter(school=self.school, person_type=person_type, mis_code__in=chunk)
                for values in rows.order_by().values_list(*STATE_FIELDS):
                    row = state_row(values)
                    members[(person_type, row["mis_code"])] = row
        self._roles([row["id"] for row in members.values()])

    def _link_touched_settle(self) -> None:
        """Whose links must be planned again: people new to the file or gone from it, and people whose line
        changed but who have no membership here yet (they may be created now) or are marked deleted (the
        planner then drops them from the codes links resolve by). Anyone else whose line changed keeps the
        membership every link of theirs resolved to last time, so a link whose own line is unchanged plans
        as it did then: unchanged (the held links are as that run left them, the fingerprint says so)."""
        members = self.state.members
        for person_type, touched in self.touched.items():
            changed = self.changed[person_type]
            unsettled = {c for c in changed if (person_type, c) not in members or c in self.deleted[person_type]}
            self.link_touched[person_type] = (touched - changed) | unsettled | self.by_hand[person_type]

    def _load_state(self) -> None:
        state = self.state
        wanted = {pt: set(codes) for pt, codes in self.touched.items()}
        for link in self.feed.links:
            wanted["contact"].add(link["contact_code"])
            wanted["student"].add(link["student_code"])
        for contact_code, student_code in self.gone_pairs:
            wanted["contact"].add(contact_code)
            wanted["student"].add(student_code)
        ends: dict[tuple[str, str], str] = {}
        for key, row in state.members.items():
            ends[key] = row["id"]
        for person_type, codes in wanted.items():  # links' other ends: their ids are enough
            for chunk in in_chunks(codes - self.touched[person_type] - {""}, "text"):
                rows = Membership.objects.filter(school=self.school, person_type=person_type, mis_code__in=chunk)
                for code, pk in rows.order_by().values_list("mis_code", "id"):
                    ends[(person_type, code)] = str(pk)
        if any(self.feed.people.values()):  # read for newcomers only (plan_newcomers): none without people to plan
            for values in Membership.objects.filter(school=self.school, mis_code="").values_list(*STATE_FIELDS):
                row = state_row(values)
                state.uncoded[(row["person_type"], row["account_id"])] = row
        if self.feed.modes["link"] != "absent":
            self._resolve_link_ends(ends)
            self._held_links(ends)

    def _roles(self, ids: list[str]) -> None:
        for chunk in in_chunks(ids, "uuid"):
            rows = RoleAssignment.objects.filter(school=self.school, membership_id__in=chunk)
            for membership_id, role in rows.values_list("membership_id", "role_id"):
                self.state.roles[str(membership_id)].add(role)

    def _resolve_link_ends(self, ends: dict[tuple[str, str], str]) -> None:
        """Untouched ends resolve as the full planner resolves them: present in the feed (or its file absent)
        and held here. Touched ends are left to the planner, which knows who it is creating or archiving."""
        for link in self.feed.links:
            for person_type, key in (("contact", "contact_code"), ("student", "student_code")):
                code = link[key]
                if code in self.touched[person_type]:
                    continue
                link[f"{person_type}_id"] = ends.get((person_type, code))  # on receipt: in the feed

    def _held_links(self, ends: dict[tuple[str, str], str]) -> None:
        """Held links the planner must see: those of the links it plans (to compare) and those that may now be
        archived (a contact's or student's line changed or went, or the link's line went)."""
        contact_absent = self.feed.modes["contact"] == "absent"
        # By contact: touched contacts, contacts of gone links, and the contact end of every planned link
        # (which finds the held link it is compared with). By student: touched students, students of gone links.
        by = {"contact": set(), "student": set()}
        for person_type in by:
            by[person_type].update(
                ends[(person_type, c)] for c in self.link_touched[person_type] if (person_type, c) in ends
            )
        for contact_code, student_code in self.gone_pairs:
            by["contact"].add(ends.get(("contact", contact_code)))
            by["student"].add(ends.get(("student", student_code)))
        by["contact"].update(ends.get(("contact", link["contact_code"])) for link in self.feed.links)
        contact_ids, student_ids = by["contact"] - {None}, by["student"] - {None}
        if not contact_ids and not student_ids:
            return  # no held link to read (a night without change)
        held = _links_held(self.school, contact_ids, student_ids)
        # The contacts file's codes, which a held link's contact must be among: on PostgreSQL while it reads.
        contacts_in_feed = set() if contact_absent else self._contact_codes()
        found = {link[0]: link for link in held.rows()}
        for link_id, contact_id, student_id, relationship, portal, contact_code, student_code in found.values():
            pair = (contact_code, student_code)
            self._held_link(link_id, contact_id, student_id, relationship, portal, pair, contact_absent,
                            contacts_in_feed)  # fmt: skip

    def _contact_codes(self) -> set[str]:
        file = self.new["contacts"]
        code_at = feed_diff.column_at(file, "mis_code")
        return {code.decode(file.encoding) for code, _ in feed_diff.pairs(file, file.lines, code_at, code_at) if code}

    def _held_link(self, link_id, contact_id, student_id, relationship, portal, pair, contact_absent, contacts_in_feed):
        contact_code = pair[0]
        key = (pair[0].encode(self.link_encoding), pair[1].encode(self.link_encoding))
        if key in self.current_pairs and key not in self.link_attention:
            return  # its line and both ends are as the last run left them: unchanged
        if not (contact_code and (contact_absent or contact_code in contacts_in_feed)):
            return  # the planner archives or compares a link only when its contact is in the feed
        self.state.links[(contact_id, student_id)] = {
            "id": link_id,
            "relationship": relationship,
            "portal_access": portal,
        }


# PG_MEMBERS for some people, each with its role ids (ids as text: str() of thousands of UUIDs costs more
# than reading them).
MEMBERS_PG = """
SELECT m.id::text, m.account_id::text, m.person_type, m.mis_code, m.status, m.year_group, m.form, m.portal_access,
       a.username, a.given_name, a.family_name, a.email, a.upn, a.home_school_id::text,
       ARRAY(SELECT r.role_id FROM accounts_roleassignment r WHERE r.membership_id = m.id AND r.school_id = m.school_id)
  FROM accounts_membership m JOIN accounts_account a ON a.id = m.account_id
 WHERE m.school_id = %s AND m.person_type = ANY(%s::text[]) AND m.mis_code = ANY(%s::text[])
"""

HELD_LINKS_PG = """
SELECT l.id::text, l.contact_id::text, l.student_id::text, l.relationship, l.portal_access, c.mis_code, s.mis_code
  FROM accounts_contactlink l
  JOIN accounts_membership c ON c.id = l.contact_id
  JOIN accounts_membership s ON s.id = l.student_id
 WHERE l.school_id = %s AND (l.contact_id = ANY(%s::uuid[]) OR l.student_id = ANY(%s::uuid[]))
"""


def _links_held(school, contact_ids: set[str], student_ids: set[str]) -> ReadAside:
    """The school's contact links whose contact is one of contact_ids or whose student is one of student_ids,
    with both ends' MIS codes: (id, contact id, student id, relationship, portal access, contact code, student
    code), ids as text, from rows(). On PostgreSQL one query (a link of both is read once; two queries cost 70
    ms against 50 for a 5% night), the ids sent as text (str() of some 60,000 UUIDs cost more than the query),
    read aside (bulk.ReadAside) while Python goes on."""
    if connection.vendor == "postgresql":
        return ReadAside(HELD_LINKS_PG, [school.pk, pg_array(sorted(contact_ids)), pg_array(sorted(student_ids))])
    fields = ("id", "contact_id", "student_id", "relationship", "portal_access", "contact__mis_code",
              "student__mis_code")  # fmt: skip
    out = []
    for end, ids in (("contact", contact_ids), ("student", student_ids)):
        for chunk in in_chunks(ids, "uuid"):
            rows = ContactLink.objects.filter(school=school, **{f"{end}_id__in": chunk}).order_by()
            out.extend((str(i), str(c), str(s), *rest) for i, c, s, *rest in rows.values_list(*fields))
    return ReadAside.of(out)


def _text(value) -> str:
    return "" if value is None else str(value)
