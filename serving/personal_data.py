"""Members' personal data as each staff role sees it (LGPD, the "necessidade" principle: a role
reads only what its work needs). `docs/personal-data.md` gives the table and the reasons; `POLICY`
is that table, and every API answer that carries a member's e-mail, phone or birth date passes
it through `disclose`.

- A masked value still shows that there is one (`m***@example.com`, `+55 11 *****-5678`) but
  cannot be used to write to or call the member.
- The birth date can be reduced to the age in years, which is all the analysts' segments use.
- A role or view that `POLICY` does not name sees none of it: kiosks, and any role added later
  until someone decides what it needs.

Names are personal data too, but every staff role needs them to recognise a member; they are
kept out of logs (as are the fields here), not masked.
"""

import re
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal, get_args

from serving import vocabulary

# How a field is shown. For the birth date, `completo` is the date (and the age), `idade` the
# age alone.
Shown = Literal["completo", "mascarado", "idade", "oculto"]
FULL: Final[Shown] = "completo"
MASKED: Final[Shown] = "mascarado"
AGE_ONLY: Final[Shown] = "idade"
HIDDEN: Final[Shown] = "oculto"

# Where a member is shown: a page of many (`GET /alunos`), one member (`GET /aluno/{id}` and the
# answers of the changes), the at-risk list (`GET /alunos/risco`).
View = Literal["lista", "detalhe", "risco"]
VIEWS: Final[tuple[View, ...]] = get_args(View)
LIST: Final[View] = "lista"
DETAIL: Final[View] = "detalhe"
AT_RISK: Final[View] = "risco"

Field = Literal["email", "telefone", "data_nascimento"]
FIELDS: Final[tuple[Field, ...]] = get_args(Field)
MASK: Final = "***"


@dataclass(frozen=True)
class Rule:
    """How one role sees each personal field in one view."""

    email: Shown
    telefone: Shown
    data_nascimento: Shown

    def of(self, field: Field) -> Shown:
        return getattr(self, field)


NOTHING: Final = Rule(email=HIDDEN, telefone=HIDDEN, data_nascimento=HIDDEN)
_ALL = Rule(email=FULL, telefone=FULL, data_nascimento=FULL)
# The at-risk list carries no birth date: the model's features already say what age explains.
_CONTACT = Rule(email=FULL, telefone=FULL, data_nascimento=HIDDEN)
POLICY: Final[dict[tuple[str, View], Rule]] = {
    # Runs the platform and answers the members' requests (access, correction, deletion).
    (vocabulary.ADMIN, LIST): _ALL,
    (vocabulary.ADMIN, DETAIL): _ALL,
    (vocabulary.ADMIN, AT_RISK): _CONTACT,
    # The retention team calls and writes to the members at risk; it segments by age.
    (vocabulary.ANALYST, LIST): Rule(email=MASKED, telefone=MASKED, data_nascimento=AGE_ONLY),
    (vocabulary.ANALYST, DETAIL): Rule(email=FULL, telefone=FULL, data_nascimento=AGE_ONLY),
    (vocabulary.ANALYST, AT_RISK): _CONTACT,
    # The front desk serves one member at a time: it confirms who they are and updates them.
    (vocabulary.FRONT_DESK, LIST): Rule(email=MASKED, telefone=MASKED, data_nascimento=HIDDEN),
    (vocabulary.FRONT_DESK, DETAIL): _ALL,
}


def rule_for(role: str, view: View) -> Rule:
    return POLICY.get((role, view), NOTHING)


@dataclass(frozen=True)
class Disclosed:
    """A member's personal fields as one reader may see them; None where it sees nothing (or
    the member has no value)."""

    email: str | None
    telefone: str | None
    data_nascimento: date | None
    idade: int | None


def disclose(
    role: str,
    view: View,
    *,
    email: str | None,
    telefone: str | None,
    data_nascimento: date | None,
    today: date,
) -> Disclosed:
    """The member's e-mail, phone and birth date (with its age) as `role` sees them in `view`;
    `today` is the gym's calendar day the age is counted on."""
    rule = rule_for(role, view)
    birth = rule.data_nascimento
    return Disclosed(
        email=_shown(email, rule.email, mask_email),
        telefone=_shown(telefone, rule.telefone, mask_phone),
        data_nascimento=data_nascimento if birth == FULL else None,
        idade=age(data_nascimento, today)
        if data_nascimento is not None and birth in (FULL, AGE_ONLY)
        else None,
    )


def _shown(value: str | None, how: Shown, mask) -> str | None:
    if not value or how == HIDDEN:
        return None
    return value if how == FULL else mask(value)


def mask_email(email: str) -> str:
    """`maria.oliveira@example.com` → `m***@example.com`: the first letter and the domain."""
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return MASK
    return f"{local[0]}{MASK}@{domain}"


# A leading country code (`+55 `) and area code (`11 `, `(11) `), each followed by a separator.
_PHONE_PREFIX = re.compile(r"^\s*(?:\+?\d{1,3}[\s.-]+)?(?:\(\d{2,3}\)\s*|\d{2,3}[\s.-]+)?")
_SUBSCRIBER_DIGITS_MIN = 8  # a Brazilian landline; mobiles have 9
_LAST_DIGITS_SHOWN = 4


def mask_phone(phone: str) -> str:
    """`+55 11 91234-5678` → `+55 11 *****-5678`: the country and area codes and the last four
    digits stay, every other letter or digit becomes `*` (the layout is kept). The codes stay
    only when a whole subscriber number follows them, and a value of fewer than eight digits
    shows none, so an odd value never shows more than a real number would."""
    prefix = _PHONE_PREFIX.match(phone)
    kept = prefix.end() if prefix else 0
    if sum(c.isdigit() for c in phone[kept:]) < _SUBSCRIBER_DIGITS_MIN:
        kept = 0
    digits_left = sum(c.isdigit() for c in phone[kept:])
    # Too few digits to be a number anyone could call: none of them is shown.
    shown = _LAST_DIGITS_SHOWN if digits_left >= _SUBSCRIBER_DIGITS_MIN else 0
    out = []
    for c in phone[kept:]:
        if c.isdigit():
            digits_left -= 1
            out.append(c if digits_left < shown else "*")
        else:
            out.append("*" if c.isalpha() else c)
    masked = phone[:kept] + "".join(out)
    return masked if "*" in masked else MASK


def age(born: date, today: date) -> int:
    """Whole years from `born` to `today` (a 29 February birthday counts from 1 March)."""
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return max(years, 0)


_WORDS: Final[dict[Shown, str]] = {
    FULL: "full",
    MASKED: "masked",
    AGE_ONLY: "only as `idade`",
    HIDDEN: "null",
}
_WHERE: Final[dict[View, str]] = {
    LIST: "in lists",
    DETAIL: "in a member's detail",
    AT_RISK: "in the at-risk list",
}


def describe(field: Field, *views: View) -> str:
    """Who sees `field` how in `views`, for the OpenAPI descriptions (written from `POLICY`,
    so the docs cannot drift from what the API does)."""
    parts = []
    for role in vocabulary.ROLES:
        seen = [(view, rule_for(role, view).of(field)) for view in views]
        if all((role, view) not in POLICY for view in views):
            continue
        if len({how for _, how in seen}) == 1:
            parts.append(f"{role}: {_WORDS[seen[0][1]]}")
        else:
            parts.append(
                f"{role}: " + ", ".join(f"{_WORDS[how]} {_WHERE[view]}" for view, how in seen)
            )
    return "; ".join(parts) + "; kiosks never see it. See docs/personal-data.md."
