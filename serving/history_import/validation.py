"""Row checks that need no database, in the order the rejects report them. The rules
themselves (lengths, e-mail, price limit, duration) are `serving.rules`, shared with the API."""

from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from serving import rules
from serving.history_import.parsing import parse_date, parse_instant, parse_price


def check_plan_terms(
    valor_text: str, duracao_text: str, valor_raw: str, duracao_raw: str
) -> tuple[str | None, Decimal | None, int | None]:
    """(reason, valor_mensal, duracao_meses) of a plan row; reasons quote the raw cells."""
    try:
        valor = parse_price(valor_text)
    except InvalidOperation:
        return f"bad valor_mensal: '{valor_raw}'", None, None
    if problem := rules.plan_price_problem(valor):
        return f"{problem}: '{valor_raw}'", None, None
    try:
        duracao = int(duracao_text)
    except ValueError:
        return f"bad duracao_meses: '{duracao_raw}'", None, None
    if problem := rules.plan_months_problem(duracao):
        return f"{problem}: '{duracao_raw}'", None, None
    return None, valor, duracao


def check_member(
    ref: str, nome: str, email: str, telefone: str, plano: str
) -> tuple[str | None, str | None]:
    """(reason, e-mail as stored) of a member row's text fields; an empty e-mail is None."""
    reason = rules.member_ref_problem(ref) or rules.name_problem(nome)
    if reason:
        return reason, None
    stored = None
    if email:
        try:
            stored = rules.normalize_email(email)
        except ValueError:
            return f"bad email: '{email}'", None
    if reason := rules.phone_problem(telefone):
        return reason, None
    if not plano:
        return "missing plano", None
    return None, stored


def birth_date(text: str) -> tuple[str | None, date | None]:
    """(reason, data_nascimento) of an optional cell."""
    if not text:
        return None, None
    try:
        value = parse_date(text)
    except ValueError:
        return f"bad date in data_nascimento: '{text}'", None
    if problem := rules.birth_date_problem(value):
        return f"{problem}: '{text}'", None
    return None, value


def member_dates(
    matricula: str, cancelamento: str, tz: tzinfo
) -> tuple[str | None, datetime | None, datetime | None]:
    if not matricula:
        return "missing data_matricula", None, None
    try:
        entrou = parse_instant(matricula, tz)
    except ValueError:
        return f"bad date in data_matricula: '{matricula}'", None, None
    saiu = None
    if cancelamento:
        try:
            saiu = parse_instant(cancelamento, tz)
        except ValueError:
            return f"bad date in data_cancelamento: '{cancelamento}'", None, None
        if saiu < entrou:
            return "data_cancelamento before data_matricula", None, None
    return None, entrou, saiu
