"""Daily attendance reports: request one (a job on `daily_report_queue`), list, read, download."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import func, select

from serving.api import errors
from serving.api.deps import PublisherDep, ReaderDep, SessionDep, SettingsDep
from serving.api.errors import ApiError
from serving.api.routes.jobs import (
    DAY_OUTSIDE_DATA,
    QUEUEING_RESPONSES,
    check_day_or_422,
    queue_job,
)
from serving.api.schemas import (
    JobPublic,
    Page,
    RelatorioDetalhe,
    RelatorioDiarioIn,
    RelatorioPublic,
)
from serving.db.tables import Job, RelatorioDiario
from serving.vocabulary import DAILY_REPORT

router = APIRouter(prefix="/relatorios", tags=["relatorios"])

ReportDate = Annotated[date, Path(description="The report's gym-local day, YYYY-MM-DD.")]
MISSING = "No report for that day (`relatorio_nao_encontrado`)"
NOT_FOUND = errors.responses(*errors.AUTHENTICATED, 404, s404=MISSING)
# The downloads answer CSV or HTML, but their errors are JSON like every error.
DOWNLOAD_NOT_FOUND = errors.responses(*errors.AUTHENTICATED, 404, s404=MISSING, as_json=True)


class CSVResponse(Response):
    media_type = "text/csv"


class HTMLResponse(Response):
    media_type = "text/html"


def _missing(data: date) -> ApiError:
    return ApiError("relatorio_nao_encontrado", data=data.isoformat())


@router.post(
    "/diario",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**QUEUEING_RESPONSES, **errors.responses(422, s422=DAY_OUTSIDE_DATA)},
)
async def request_daily_report(
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    who: ReaderDep,
    response: Response,
    body: RelatorioDiarioIn | None = None,
) -> Job:
    """Queue the attendance report of a gym-local day (admin, analista): visits, members
    present, visits by hour and by plan, members who became high churn risk. Defaults to today
    (the day so far). A day reported again is replaced; asking for a day whose report is still
    pending answers that job (200). Follow the job at `GET /admin/jobs/{id}`, then read it at
    `GET /relatorios/{data}`."""
    if body and body.data:
        dia = body.data
        await check_day_or_422(session, settings, "data", dia)
    else:
        dia = datetime.now(settings.tz).date()
    # Always the explicit day: "no date" and today's date are the same report, the same job.
    return await queue_job(
        session,
        publisher,
        settings,
        response,
        tipo=DAILY_REPORT,
        parametros={"data": dia.isoformat()},
        solicitado_por=who,
    )


def _metadata_columns():
    return (
        RelatorioDiario.data,
        RelatorioDiario.gerado_em,
        RelatorioDiario.job_id,
        RelatorioDiario.resumo["totais"].label("totais"),
    )


@router.get(
    "", response_model=Page[RelatorioPublic], responses=errors.responses(*errors.AUTHENTICATED)
)
async def list_reports(
    session: SessionDep,
    _: ReaderDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    """Stored daily reports, newest day first, with their totals (admin, analista)."""
    count = await session.scalar(select(func.count()).select_from(RelatorioDiario))
    rows = await session.execute(
        select(*_metadata_columns())
        .order_by(RelatorioDiario.data.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    data = [RelatorioPublic.model_validate(dict(row)) for row in rows.mappings()]
    return Page(data=data, count=count or 0, page=page, page_size=page_size)


@router.get("/{data}", response_model=RelatorioDetalhe, responses=NOT_FOUND)
async def get_report(data: ReportDate, session: SessionDep, _: ReaderDep) -> dict:
    """A day's report: totals, visits by hour (gym time) and by plan (admin, analista). The
    members present and those who became high risk are in the CSV and HTML downloads."""
    row = (
        (
            await session.execute(
                select(*_metadata_columns(), RelatorioDiario.resumo).where(
                    RelatorioDiario.data == data
                )
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise _missing(data)
    return dict(row)


async def _document(session, data: date, column) -> str:
    content = await session.scalar(select(column).where(RelatorioDiario.data == data))
    if content is None:
        raise _missing(data)
    return content


@router.get(
    "/{data}/csv",
    response_class=CSVResponse,
    response_model=None,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The report as one CSV table (UTF-8, header row; `secao` column "
            "says which part each row belongs to: total, hora, plano, presente, alto_risco).",
        },
        **DOWNLOAD_NOT_FOUND,
    },
)
async def download_report_csv(data: ReportDate, session: SessionDep, _: ReaderDep) -> Response:
    """The day's report as CSV, for a spreadsheet (admin, analista)."""
    content = await _document(session, data, RelatorioDiario.csv)
    return CSVResponse(
        content,
        headers={"Content-Disposition": f'attachment; filename="relatorio-{data.isoformat()}.csv"'},
    )


@router.get(
    "/{data}/html",
    response_class=HTMLResponse,
    response_model=None,
    responses={
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "The report as a self-contained page (no scripts, no external "
            "assets), to read or print.",
        },
        **DOWNLOAD_NOT_FOUND,
    },
)
async def read_report_html(data: ReportDate, session: SessionDep, _: ReaderDep) -> Response:
    """The day's report as a readable page, with a chart of visits by hour (admin, analista)."""
    return HTMLResponse(await _document(session, data, RelatorioDiario.html))
