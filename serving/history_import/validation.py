"""Row checks that need no database. Each returns every problem it finds (a row lists all of
them, not the first), as `Problem`s whose console text names the column and never holds the
cell. The rules themselves (lengths, e-mail, price limit, duration) are `serving.rules`, shared
with the API."""

from collections.abc import Callable
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from serving import rules
from serving.history_import.parsing import parse_date, parse_instant, parse_price
from serving.history_import.report import Problem, cell

DATE_HINT = "(use AAAA-MM-DD or DD/MM/AAAA)"
INSTANT_HINT = "(use AAAA-MM-DD HH:MM[:SS] or DD/MM/AAAA HH:MM)"


def not_a_date(column: str, text: str) -> Problem:
    return Problem(f"{column} is not a date {DATE_HINT}", cell(text))


def not_an_instant(column: str, text: str) -> Problem:
    return Problem(f"{column} is not a date and time {INSTANT_HINT}", cell(text))


def check_plan_terms(
    valor_text: str, duracao_text: str
) -> tuple[list[Problem], Decimal | None, int | None]:
    """(problems, valor_mensal, duracao_meses) of a plan row."""
    problems: list[Problem] = []
    valor: Decimal | None = None
    duracao: int | None = None
    try:
        valor = parse_price(valor_text)
    except InvalidOperation:
        problems.append(Problem("valor_mensal is not a number", cell(valor_text)))
    else:
        if problem := rules.plan_price_problem(valor):
            problems.append(Problem(problem, cell(valor_text)))
    try:
        duracao = int(duracao_text)
    except ValueError:
        problems.append(Problem("duracao_meses is not a whole number", cell(duracao_text)))
    else:
        if problem := rules.plan_months_problem(duracao):
            problems.append(Problem(problem, cell(duracao_text)))
    return problems, valor, duracao


def check_member(
    ref: str, nome: str, email: str, telefone: str
) -> tuple[list[Problem], str | None]:
    """(problems, e-mail as stored) of a member row's text fields, in column order; an empty
    e-mail is None."""
    problems = [
        Problem(reason)
        for reason in (
            "missing aluno_ref" if not ref else rules.member_ref_problem(ref),
            rules.name_problem(nome),
        )
        if reason
    ]
    stored = None
    if email:
        try:
            stored = rules.normalize_email(email)
        except ValueError:
            problems.append(Problem("email is not a valid e-mail address", cell(email)))
    if problem := rules.phone_problem(telefone):
        problems.append(Problem(problem))
    return problems, stored


def birth_date(text: str) -> tuple[Problem | None, date | None]:
    """(problem, data_nascimento) of an optional cell."""
    if not text:
        return None, None
    try:
        value = parse_date(text)
    except ValueError:
        return not_a_date("data_nascimento", text), None
    if problem := rules.birth_date_problem(value):
        return Problem(problem, cell(text)), None
    return None, value


def member_dates(
    matricula: str, cancelamento: str, tz: tzinfo
) -> tuple[list[Problem], datetime | None, datetime | None]:
    """(problems, data_matricula, data_cancelamento)."""
    problems: list[Problem] = []
    entrou = saiu = None
    if not matricula:
        problems.append(Problem("missing data_matricula"))
    else:
        try:
            entrou = parse_instant(matricula, tz)
        except ValueError:
            problems.append(not_a_date("data_matricula", matricula))
    if cancelamento:
        try:
            saiu = parse_instant(cancelamento, tz)
        except ValueError:
            problems.append(not_a_date("data_cancelamento", cancelamento))
    if entrou is not None and saiu is not None and saiu < entrou:
        problems.append(Problem("data_cancelamento before data_matricula"))
    return problems, entrou, saiu


def checkin_problems(
    ref: str, entrada: str, saida: str, canonical: Callable[[str], tuple[datetime, str]]
) -> list[Problem]:
    """Every problem of a check-in row the import's hot loop found wrong (it stops at the
    first; this is only called for the rows that have one)."""
    problems: list[Problem] = []
    if not ref:
        problems.append(Problem("missing aluno_ref"))
    entered = left = None
    if not entrada:
        problems.append(Problem("missing entrada"))
    else:
        try:
            entered = canonical(entrada)[0]
        except ValueError:
            problems.append(not_an_instant("entrada", entrada))
    if saida:
        try:
            left = canonical(saida)[0]
        except ValueError:
            problems.append(not_an_instant("saida", saida))
    if entered is not None and left is not None and left < entered:
        problems.append(Problem("saida before entrada"))
    return problems
