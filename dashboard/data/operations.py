"""Operações: every read and every action goes to the API with the logged-in user's token
(`auth.call`), so the API's role checks are the only ones that matter. A CSV of check-ins is
parsed here, row by row, before anything is sent."""

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dashboard import auth
from dashboard.data.api import ApiError, ApiUnavailable

# Restated from serving (the dashboard may not import it); tests/dashboard checks they agree.
BULK_MAX_EVENTS = 10_000  # serving.rules.BULK_MAX_EVENTS
MODEL_UPDATE, CHURN_SCORING, DAILY_REPORT = "atualizar-modelo", "calcular-churn", "relatorio-diario"
JOB_ROUTES = {
    MODEL_UPDATE: "/admin/atualizar-modelo",
    CHURN_SCORING: "/admin/calcular-churn",
    DAILY_REPORT: "/relatorios/diario",
}
UNFINISHED = ("queued", "running")
CHECKIN_TYPES = ("entrada", "saida")
# Slow answers: a bulk of 10,000 events waits for the broker's confirms, and a member's first
# risk may load the champion model.
SLOW_SECONDS = 120.0

# --- jobs and reports -----------------------------------------------------------------------


def request_job(kind: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Queue a job (202); the answer is the job as `GET /admin/jobs/{id}` shows it."""
    return auth.call("POST", JOB_ROUTES[kind], json=body).json()


def job(job_id: str) -> dict[str, Any]:
    return auth.call("GET", f"/admin/jobs/{job_id}").json()


def recent_jobs(limit: int = 15) -> list[dict[str, Any]]:
    return auth.call("GET", "/admin/jobs", params={"page_size": limit}).json()["data"]


def reports(limit: int = 60) -> list[dict[str, Any]]:
    """Stored daily reports, newest day first."""
    return auth.call("GET", "/relatorios", params={"page_size": limit}).json()["data"]


def report_html(day: date) -> str:
    return auth.call("GET", f"/relatorios/{day.isoformat()}/html").text


# --- synthetic student ----------------------------------------------------------------------


def plan_names() -> list[str]:
    return [plan["nome"] for plan in auth.call("GET", "/planos").json()]


def create_synthetic_student(profile: dict[str, Any]) -> dict[str, Any]:
    return auth.call("POST", "/aluno/sintetico", json=profile, timeout=SLOW_SECONDS).json()


def churn_risk(aluno_id: int) -> dict[str, Any]:
    """The member's risk now: a member no batch has scored yet is scored on demand."""
    return auth.call("GET", f"/aluno/{aluno_id}/risco-churn", timeout=SLOW_SECONDS).json()


# --- users and kiosks -----------------------------------------------------------------------


def users() -> list[dict[str, Any]]:
    return auth.call("GET", "/auth/usuarios").json()


def create_user(body: dict[str, Any]) -> dict[str, Any]:
    return auth.call("POST", "/auth/usuarios", json=body).json()


def update_user(usuario_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    return auth.call("PATCH", f"/auth/usuarios/{usuario_id}", json=changes).json()


def devices() -> list[dict[str, Any]]:
    return auth.call("GET", "/admin/dispositivos").json()


def create_device(nome: str, local: str | None) -> dict[str, Any]:
    """The new kiosk with its key (`api_key`): the only time the API shows it."""
    return auth.call("POST", "/admin/dispositivos", json={"nome": nome, "local": local}).json()


def revoke_device(dispositivo_id: int) -> dict[str, Any]:
    return auth.call("DELETE", f"/admin/dispositivos/{dispositivo_id}").json()


# --- audit log ------------------------------------------------------------------------------


def audit_entries(limit: int = 50) -> list[dict[str, Any]]:
    """The latest admin actions (`GET /admin/auditoria`), newest first."""
    return auth.call("GET", "/admin/auditoria", params={"page_size": limit}).json()["data"]


# --- system status --------------------------------------------------------------------------


def system_status() -> dict[str, Any]:
    """`GET /status`. A service down makes it a 503 whose body is still the status."""
    try:
        return auth.call("GET", "/status").json()
    except ApiError as exc:
        if exc.status == 503 and isinstance(exc.body, dict) and "postgres" in exc.body:
            return exc.body
        raise


def cache_status() -> dict[str, Any]:
    return auth.call("GET", "/status/cache").json()


# --- check-ins from a CSV -------------------------------------------------------------------

CSV_COLUMNS = ("aluno_id", "tipo", "ocorrido_em")
CSV_OPTIONAL = ("checkin_id",)
# A row without checkin_id gets one derived from what it says, so uploading the same file twice
# (or retrying after a failure) sends the same ids, and the API keeps one check-in per event.
_CSV_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "gympulse:dashboard:checkins-csv")
_BRAZILIAN_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


@dataclass(frozen=True)
class CsvRow:
    line: int
    aluno_id: int
    event: dict[str, Any]  # the body of one event of POST /aluno/checkin/lote


@dataclass(frozen=True)
class RefusedRow:
    line: int
    aluno_id: str
    motivo: str


@dataclass
class ParsedCsv:
    rows: list[CsvRow] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    error: str | None = None  # the whole file is unusable (no header, missing columns)


@dataclass
class UploadResult:
    accepted: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    stopped: str | None = None  # why sending stopped before the end, if it did


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")  # spreadsheets saved in Windows' encoding


def _moment(text: str, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in _BRAZILIAN_FORMATS:
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(
                f"ocorrido_em não é uma data e hora: '{text}' "
                "(use 2026-11-28T07:31:05-03:00 ou 28/11/2026 07:31)"
            ) from None
    # A spreadsheet rarely writes the offset: a time without one is the gym's local time.
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _event(record: dict[str, str], tz: ZoneInfo) -> dict[str, Any]:
    raw_id = record["aluno_id"]
    if not raw_id.isdigit() or not 0 < int(raw_id) <= 2**62:
        raise ValueError(f"aluno_id não é um número de aluno: '{raw_id}'")
    tipo = record["tipo"].lower().replace("í", "i")
    if tipo not in CHECKIN_TYPES:
        raise ValueError(f"tipo deve ser entrada ou saida, veio '{record['tipo']}'")
    if not record["ocorrido_em"]:
        raise ValueError("ocorrido_em vazio")
    when = _moment(record["ocorrido_em"], tz).isoformat()
    given_id = record.get("checkin_id") or ""
    try:
        checkin_id = (
            uuid.UUID(given_id)
            if given_id
            else uuid.uuid5(_CSV_NAMESPACE, f"{int(raw_id)}|{tipo}|{when}")
        )
    except ValueError:
        raise ValueError(f"checkin_id não é um UUID: '{given_id}'") from None
    return {
        "aluno_id": int(raw_id),
        "tipo": tipo,
        "ocorrido_em": when,
        "checkin_id": str(checkin_id),
    }


def parse_checkins_csv(content: bytes, tz: ZoneInfo) -> ParsedCsv:
    """Rows of aluno_id,tipo,ocorrido_em[,checkin_id] (header first, comma or semicolon), each
    with its line number in the file; a row that cannot be read is refused with the reason."""
    text = _decode(content)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        return ParsedCsv(
            error=f"O arquivo precisa de um cabeçalho com {', '.join(CSV_COLUMNS)} "
            f"(e, se quiser, {', '.join(CSV_OPTIONAL)}); faltam: {', '.join(missing)}."
        )
    reader.fieldnames = header
    parsed = ParsedCsv()
    for record in reader:
        line = reader.line_num
        if None in record or any(value is None for value in record.values()):
            parsed.refused.append(
                RefusedRow(
                    line,
                    str(record.get("aluno_id") or ""),
                    "número de colunas diferente do cabeçalho",
                )
            )
            continue
        values = {key: value.strip() for key, value in record.items()}
        try:
            event = _event(values, tz)
        except ValueError as exc:
            parsed.refused.append(RefusedRow(line, values["aluno_id"], str(exc)))
            continue
        parsed.rows.append(CsvRow(line, event["aluno_id"], event))
    return parsed


def _named_refusals(exc: ApiError) -> dict[int, str]:
    """{index in the batch: reason} from a refused batch: the API's `erros` (pt-BR), each
    placed at `local` ["body", "checkins", index, field?]."""
    erros = exc.body.get("erros") if isinstance(exc.body, dict) else None
    named: dict[int, str] = {}
    for item in erros if isinstance(erros, list) else []:
        if not isinstance(item, dict):
            continue
        local = item.get("local") or []
        if len(local) >= 3 and local[:2] == ["body", "checkins"] and isinstance(local[2], int):
            where = ".".join(str(part) for part in local[3:])
            text = str(item.get("mensagem", ""))
            named[local[2]] = f"{where}: {text}" if where else text
    return named


def send_checkins(rows: list[CsvRow], progress: Callable[[int, int], None]) -> UploadResult:
    """Send the rows in batches of at most BULK_MAX_EVENTS. The bulk route is all or nothing
    and names each refused event: those rows are set aside with the API's reason and the rest of
    the batch is sent again, so every good row lands."""
    result = UploadResult()
    for start in range(0, len(rows), BULK_MAX_EVENTS):
        pending = rows[start : start + BULK_MAX_EVENTS]
        while pending:
            try:
                answer = auth.call(
                    "POST",
                    "/aluno/checkin/lote",
                    json={"checkins": [row.event for row in pending]},
                    timeout=SLOW_SECONDS,
                )
            except ApiUnavailable as exc:
                result.stopped = f"linha {pending[0].line}: {exc}"
                return result
            except ApiError as exc:
                named = _named_refusals(exc)
                if not named:
                    result.stopped = f"linha {pending[0].line}: {exc}"
                    return result
                result.refused += [
                    RefusedRow(pending[i].line, str(pending[i].aluno_id), reason)
                    for i, reason in sorted(named.items())
                    if i < len(pending)
                ]
                pending = [row for i, row in enumerate(pending) if i not in named]
                continue
            result.accepted += int(answer.json()["aceitos"])
            pending = []
        progress(min(start + BULK_MAX_EVENTS, len(rows)), len(rows))
    return result
