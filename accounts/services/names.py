"""What may enter the registry as text: names without control characters or bidirectional controls, year groups
from the school's year list, and MIS codes compared as a person reads them."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db.models import Value
from django.db.models.functions import Lower, Replace

from accounts.models import Membership
from accounts.selectors import year_groups_in_use
from tenancy.models import School

# Control characters (Unicode's Cc: C0, DEL, C1), the line and paragraph separators, every format character
# (Cf: the bidirectional marks, embeddings, overrides and isolates; the zero-width space, word joiner, soft hyphen,
# invisible operators, BOM, tags...), and the letters that print as nothing (combining grapheme joiner, Hangul
# and Khmer fillers, the blank braille pattern). An override shows "Smith" as something else on every screen,
# report and certificate; an invisible character makes two names that look alike differ. The zero-width
# joiners U+200C/U+200D stay inside a word (Persian and Indic names need them), never at either end.
_CF = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_INVISIBLE_LETTERS = "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0"
UNSAFE_TEXT = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_CF}{_INVISIBLE_LETTERS}]|^[\u200c\u200d]|[\u200c\u200d]$")
UNSAFE_TEXT_MESSAGE = (
    "contains control characters (line breaks, tabs, text-direction controls or invisible characters); remove them"
)
NAME_FIELDS = {"given_name": "Given names", "family_name": "Family name"}
# The years of English schools, nursery to sixth form; a school's own spellings (from its MIS) join them.
STANDARD_YEARS = ("N", "R", *(str(n) for n in range(1, 14)))


def check_names(**names: str) -> None:
    """Refuse a given or family name holding a control or bidirectional-control character."""
    errors = {
        field: f"{NAME_FIELDS.get(field, field)} {UNSAFE_TEXT_MESSAGE}."
        for field, value in names.items()
        if value and UNSAFE_TEXT.search(value)
    }
    if errors:
        raise ValidationError(errors)


# "Year 7", "Yr 7", "Y7" and "7" are one year: MIS exports spell it every way.
_YEAR_PREFIX = re.compile(r"^(?:year|yr|y)(?=\d|[nr]$)")


def year_key(text: str) -> str:
    return _YEAR_PREFIX.sub("", "".join(text.split()).casefold())


def school_year_list(*, school: School) -> list[str]:
    """The school's years: the standard ones, spelled as its people already are ("Year 7" where its MIS says
    so), then any other year its people are in."""
    in_use = set(year_groups_in_use(school=school))
    spelled = {year_key(year): year for year in sorted(in_use)}
    standard_keys = {year_key(s) for s in STANDARD_YEARS}
    extra = sorted(y for y in in_use if year_key(y) not in standard_keys)
    return [*(spelled.get(year_key(s), s) for s in STANDARD_YEARS), *extra]


def year_group_clean(*, school: School, year_group: str) -> str:
    """The year group as the school's year list spells it ("r" is "R"); one not in the list is refused."""
    year_group = (year_group or "").strip()
    if not year_group:
        return ""
    years = school_year_list(school=school)
    for year in years:
        if year_key(year) == year_key(year_group):
            return year
    raise ValidationError({"year_group": f"{year_group} is not one of this school's year groups ({', '.join(years)})."})


MIS_CODE_PROBLEM = "contains control or invisible characters; remove them"


def mis_code_text(raw: str) -> str:
    """A MIS code in its one spelling, wherever one enters (+Add, the API, upload, both feed formats): NFKC, so
    full-width "Ｓ１０３８" is "S1038" and cannot sit beside it as a second person; trimmed."""
    text = (raw or "").strip()
    return text if text.isascii() else unicodedata.normalize("NFKC", text).strip()


def mis_code_problem(code: str) -> str | None:
    """Why a MIS code cannot be one: control or invisible characters (the joiners too: a code needs none)."""
    if code and not code.isascii() and (UNSAFE_TEXT.search(code) or "\u200c" in code or "\u200d" in code):
        return MIS_CODE_PROBLEM
    return None


def mis_code_key(code: str) -> str:
    """A MIS code as a person reads it: "s1038", "S1038", " S 1038" and full-width "Ｓ１０３８" are one code."""
    return "".join(unicodedata.normalize("NFKC", code or "").split()).lower()


def mis_code_clash(*, school: School, person_type: str, mis_code: str, exclude=None) -> Membership | None:
    """Another membership of this person type holding the same code, whatever its case and spacing."""
    if not mis_code_key(mis_code):
        return None
    spaced = Lower("mis_code")
    for space in (" ", "\t", "\u00a0"):
        spaced = Replace(spaced, Value(space), Value(""))
    taken = (
        Membership.objects.filter(school=school, person_type=person_type)
        .exclude(mis_code="")
        .alias(key=spaced)
        .filter(key=mis_code_key(mis_code))
    )
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    return taken.select_related("account").first()
