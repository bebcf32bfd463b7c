"""Registration rules, written once: what a member, a plan, a staff password and a kiosk key must
be, whoever writes them (the API's schemas, the history import, the simulator, the CLI).

The limits are the database's (column sizes, check constraints in the migrations) or narrower.
Each check returns the problem as a short English reason, or None: the import writes the reason
into its rejects file; the API's schemas use the same constants as `Field`/`StringConstraints`
bounds (so OpenAPI shows them) and the functions as `AfterValidator`s where a bound is not enough.
Vocabularies (roles, check-in types, origins...) are in `serving.vocabulary`, not here."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

import email_validator

from serving.security import new_kiosk_key, sha256_hex

# --- members (table alunos) -------------------------------------------------------------------

MEMBER_REF_MAX: Final = 64  # alunos.aluno_ref varchar(64)
NAME_MAX: Final = 200  # alunos.nome and usuarios.nome varchar(200)
PHONE_MAX: Final = 40  # alunos.telefone varchar(40)
EMAIL_MAX: Final = 320  # alunos.email and usuarios.email varchar(320)
BIRTH_DATE_MIN: Final = date(1900, 1, 1)


def member_ref_problem(ref: str) -> str | None:
    if len(ref) > MEMBER_REF_MAX:
        return f"aluno_ref longer than {MEMBER_REF_MAX} characters"
    return None


def name_problem(nome: str) -> str | None:
    """A member's (or a staff user's) name, already stripped."""
    if not nome:
        return "missing nome"
    if len(nome) > NAME_MAX:
        return f"nome longer than {NAME_MAX} characters"
    return None


def phone_problem(telefone: str) -> str | None:
    if len(telefone) > PHONE_MAX:
        return f"telefone longer than {PHONE_MAX} characters"
    return None


def normalize_email(text: str) -> str:
    """The e-mail as stored (domain lowercased, Unicode NFC), or ValueError with the reason.

    The validator behind pydantic's `EmailStr` (`email_validator`, no DNS lookup), so the API,
    the import and the simulator accept and store the same strings. Unlike `EmailStr` it refuses
    a display name ("Ana <ana@example.com>"): a member's e-mail is an address."""
    if len(text) > EMAIL_MAX:
        raise ValueError(f"e-mail longer than {EMAIL_MAX} characters")
    try:
        return email_validator.validate_email(text, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None


def birth_date_problem(value: date) -> str | None:
    if value < BIRTH_DATE_MIN:
        return f"data_nascimento before {BIRTH_DATE_MIN.isoformat()}"
    return None


# --- check-ins -------------------------------------------------------------------------------

# Events in one POST /aluno/checkin/lote (all or nothing): about 1 MB of JSON.
BULK_MAX_EVENTS: Final = 10_000


# --- plans (table planos) ---------------------------------------------------------------------

PLAN_NAME_MAX: Final = 80  # planos.nome varchar(80)
PLAN_DESCRIPTION_MAX: Final = 2000
# planos.valor_mensal is numeric(10, 2) (up to 99,999,999.99); a monthly fee above 100,000 is a
# typo (a missing decimal separator), not a plan.
PLAN_PRICE_MAX: Final = Decimal("100000")
PLAN_PRICE_DIGITS: Final = 10
PLAN_PRICE_PLACES: Final = 2
PLAN_MONTHS_MIN: Final = 1  # check constraint ck_planos_duracao
PLAN_MONTHS_MAX: Final = 60


def plan_name_problem(nome: str) -> str | None:
    if not nome:
        return "missing nome"
    if len(nome) > PLAN_NAME_MAX:
        return f"nome longer than {PLAN_NAME_MAX} characters"
    return None


def plan_price_problem(valor: Decimal) -> str | None:
    """A finite Decimal's problem as a monthly fee: negative, over the limit, or sub-cent."""
    if valor < 0:
        return "negative valor_mensal"
    if valor > PLAN_PRICE_MAX:
        return f"valor_mensal over the limit of {PLAN_PRICE_MAX:,.2f}"
    exponent = valor.normalize().as_tuple().exponent
    # A finite Decimal's exponent is an int ('n', 'N', 'F' are NaN and infinity).
    if isinstance(exponent, int) and -exponent > PLAN_PRICE_PLACES:  # as pydantic counts them
        return f"valor_mensal with more than {PLAN_PRICE_PLACES} decimal places"
    return None


def plan_months_problem(meses: int) -> str | None:
    if not PLAN_MONTHS_MIN <= meses <= PLAN_MONTHS_MAX:
        return f"duracao_meses must be between {PLAN_MONTHS_MIN} and {PLAN_MONTHS_MAX}"
    return None


# --- staff users and kiosks -------------------------------------------------------------------

USERNAME_PATTERN: Final = r"^[a-zA-Z0-9_.-]{3,80}$"  # usuarios.username varchar(80)
PASSWORD_MIN: Final = 10
PASSWORD_MAX: Final = 200
DEVICE_NAME_MAX: Final = 120  # dispositivos.nome varchar(120)
DEVICE_PLACE_MAX: Final = 200  # dispositivos.local varchar(200)
KIOSK_KEY_PREFIX_LENGTH: Final = 12  # stored in chave_prefixo (varchar(16)) to recognise a key


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN:
        return f"the password must have at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"the password must have at most {PASSWORD_MAX} characters"
    return None


@dataclass(frozen=True)
class KioskKey:
    """A new kiosk key: `key` is shown once; only `prefix` and `hash` are stored."""

    key: str
    prefix: str
    hash: str


def issue_kiosk_key() -> KioskKey:
    key = new_kiosk_key()
    return KioskKey(key=key, prefix=key[:KIOSK_KEY_PREFIX_LENGTH], hash=sha256_hex(key))


# --- the synthetic student (simulator) --------------------------------------------------------

STUDENT_VISITS_PER_WEEK_MAX: Final = 14.0  # > 0
STUDENT_MINUTES_MIN: Final = 10.0
STUDENT_MINUTES_MAX: Final = 300.0
STUDENT_WEEKS_MIN: Final = 1
STUDENT_WEEKS_MAX: Final = 156  # three years of history
# How a synthetic student's aluno_ref starts: every list, KPI and report leaves them out. The
# database spells the same rule as `aluno_sintetico(aluno_ref)` (migration 0006); a test compares.
SYNTHETIC_REF_PREFIX: Final = "SINT-"
