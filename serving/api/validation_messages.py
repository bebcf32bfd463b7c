"""pydantic's validation errors in pt-BR: each error type the public API can raise gets a stable
code and a sentence, with the limit it broke (`ctx`) but never the value sent (bad_input.py adds
a short excerpt of that apart)."""

from typing import Any, Final

# Messages several pydantic types share.
_INTEGER = ("deve_ser_inteiro", "Deve ser um número inteiro.")
_NUMBER = ("deve_ser_numero", "Deve ser um número.")
_FINITE = ("deve_ser_numero", "Deve ser um número finito.")
_DECIMAL = ("deve_ser_numero", "Deve ser um número decimal.")
_BOOLEAN = ("deve_ser_booleano", "Deve ser true ou false.")
_DATE = ("data_invalida", "Data inválida: use AAAA-MM-DD.")
_DATETIME = (
    "data_hora_invalida",
    "Data e hora inválidas: use ISO 8601 com fuso, ex. 2025-01-31T08:00:00-03:00.",
)
_UUID = ("uuid_invalido", "Deve ser um UUID.")
_CHOICE = ("valor_nao_permitido", "Deve ser um de: {expected}.")
_OBJECT = ("deve_ser_objeto", "Deve ser um objeto JSON.")
_JSON = ("json_invalido", "JSON inválido.")

# pydantic type → (code, pt-BR message; `str.format` with the error's ctx).
_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "missing": ("campo_obrigatorio", "Campo obrigatório."),
    "extra_forbidden": ("campo_nao_permitido", "Campo não permitido."),
    "string_type": ("deve_ser_texto", "Deve ser um texto."),
    "string_too_short": ("texto_curto_demais", "Deve ter ao menos {min_length} caractere(s)."),
    "string_too_long": ("texto_longo_demais", "Deve ter no máximo {max_length} caracteres."),
    "string_pattern_mismatch": (
        "formato_invalido",
        "Formato inválido (caracteres de controle como NUL não são aceitos).",
    ),
    "string_unicode": ("deve_ser_texto", "Deve ser um texto Unicode válido."),
    "int_type": _INTEGER,
    "int_parsing": _INTEGER,
    "int_from_float": ("deve_ser_inteiro", "Deve ser um número inteiro, sem parte decimal."),
    "int_parsing_size": ("numero_fora_do_intervalo", "Número grande demais."),
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": _FINITE,
    "decimal_type": _DECIMAL,
    "decimal_parsing": _DECIMAL,
    "decimal_max_digits": ("numero_fora_do_intervalo", "No máximo {max_digits} dígitos."),
    "decimal_max_places": (
        "numero_fora_do_intervalo",
        "No máximo {decimal_places} casas decimais.",
    ),
    "decimal_whole_digits": (
        "numero_fora_do_intervalo",
        "No máximo {whole_digits} dígitos antes da vírgula.",
    ),
    "decimal_finite_number": _FINITE,
    "bool_type": _BOOLEAN,
    "bool_parsing": _BOOLEAN,
    "greater_than": ("fora_do_intervalo", "Deve ser maior que {gt}."),
    "greater_than_equal": ("fora_do_intervalo", "Deve ser maior ou igual a {ge}."),
    "less_than": ("fora_do_intervalo", "Deve ser menor que {lt}."),
    "less_than_equal": ("fora_do_intervalo", "Deve ser menor ou igual a {le}."),
    "multiple_of": ("fora_do_intervalo", "Deve ser múltiplo de {multiple_of}."),
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": ("data_invalida", "Data sem hora: use AAAA-MM-DD."),
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": ("data_hora_invalida", "Data e hora inválidas."),
    "timezone_aware": (
        "fuso_obrigatorio",
        "Data e hora sem fuso horário: informe o fuso, ex. -03:00.",
    ),
    "uuid_type": _UUID,
    "uuid_parsing": _UUID,
    "uuid_version": _UUID,
    "literal_error": _CHOICE,
    "enum": _CHOICE,
    "list_type": ("deve_ser_lista", "Deve ser uma lista."),
    "too_short": ("lista_curta_demais", "Deve ter ao menos {min_length} item(ns)."),
    "too_long": ("lista_longa_demais", "Deve ter no máximo {max_length} itens."),
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dataclass_type": _OBJECT,
    "json_invalid": _JSON,
    "json_type": _JSON,
    "none_required": ("deve_ser_nulo", "Deve ser null."),
    "url_parsing": ("url_invalida", "URL inválida."),
    "url_type": ("url_invalida", "URL inválida."),
}

# The value errors our own validators raise (rules.py, schemas.py), by the start of their
# English message: the code and its pt-BR sentence.
_VALUE_ERRORS: Final[tuple[tuple[str, str, str], ...]] = (
    ("e-mail longer than", "email_invalido", "E-mail longo demais."),
    ("not a valid e-mail address", "email_invalido", "E-mail inválido."),
    ("may be omitted but not null", "nulo_nao_permitido", "Pode ser omitido, mas não nulo."),
    (
        "dias_desde_ultima must be shorter",
        "fora_do_intervalo",
        "Deve ser menor que o histórico (semanas × 7 dias).",
    ),
)
_FALLBACK: Final = ("valor_invalido", "Valor inválido.")


def _limit(value: Any) -> str:
    # ctx values are numbers, dates or the list of allowed values ("'a', 'b' or 'c'").
    text = str(value)
    return text.replace(" or ", " ou ")


def pt_br(error: dict[str, Any] | Any) -> tuple[str, str]:
    """(code, message) of one pydantic error."""
    kind = error.get("type", "")
    if kind in ("value_error", "assertion_error"):
        reason = str((error.get("ctx") or {}).get("error", ""))
        for start, code, text in _VALUE_ERRORS:
            if reason.startswith(start):
                return code, text
        return _FALLBACK
    if kind not in _MESSAGES:
        return _FALLBACK
    code, template = _MESSAGES[kind]
    ctx = {key: _limit(value) for key, value in (error.get("ctx") or {}).items()}
    try:
        return code, template.format(**ctx)
    except (KeyError, IndexError):  # a ctx without the limit the sentence names
        return code, _FALLBACK[1]
