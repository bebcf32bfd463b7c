import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from serving import audit, personal_data
from serving.api import errors
from serving.api.deps import (
    CacheDep,
    FrontDeskDep,
    MembersDep,
    Principal,
    SessionDep,
    SettingsDep,
    StaffDep,
)
from serving.api.errors import ApiError
from serving.api.schemas import (
    NO_NUL,
    AlunoCreate,
    AlunoDetail,
    AlunoPublic,
    AlunoUpdate,
    FrequenciaOut,
    Page,
    PlanoPublic,
    StatusChange,
    StatusPublic,
)
from serving.cache import frequency_key
from serving.config import Settings
from serving.db.tables import Aluno, AlunoStatus, Plano
from serving.visits import Period, member_frequency
from serving.vocabulary import (
    MEMBER_ACTIVATED,
    MEMBER_CHANGED,
    MEMBER_DEACTIVATED,
    MEMBER_REGISTERED,
)

router = APIRouter(tags=["alunos"])
AlunoId = Annotated[int, Path(gt=0, le=2**62, description="Member id")]
MAX_PERIOD_DAYS = 366
# Far enough from date.min/date.max that the period arithmetic cannot overflow.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 1, 1)
NOT_FOUND = "Member not found (`aluno_nao_encontrado`)"
BAD_PLAN = "Invalid body (`dados_invalidos`), or not an active plan (`plano_inativo`)"


async def member_or_404(session, aluno_id: int, *, lock: bool = False) -> Aluno:
    query = select(Aluno).where(Aluno.id == aluno_id)
    if lock:
        query = query.with_for_update()
    aluno = (await session.execute(query)).scalar_one_or_none()
    if aluno is None:
        raise ApiError("aluno_nao_encontrado", aluno_id=aluno_id)
    return aluno


async def _active_plan_or_422(session, plano_id: int) -> Plano:
    plano = await session.get(Plano, plano_id)
    if plano is None or not plano.ativo:
        raise ApiError("plano_inativo", plano_id=plano_id)
    return plano


async def _email_taken(session, email: str, except_id: int | None = None) -> bool:
    query = select(func.count()).where(func.lower(Aluno.email) == email.lower())
    if except_id is not None:
        query = query.where(Aluno.id != except_id)
    return bool(await session.scalar(query))


def _as_seen(
    aluno: Aluno, who: Principal, view: personal_data.View, settings: Settings
) -> AlunoPublic:
    """The member with its e-mail, phone and birth date as the caller's role sees them here.
    Read from the validated model: after an update the row holds the body's JSON values."""
    member = AlunoPublic.model_validate(aluno)
    shown = personal_data.disclose(
        who.role,
        view,
        email=member.email,
        telefone=member.telefone,
        data_nascimento=member.data_nascimento,
        today=datetime.now(settings.tz).date(),
    )
    return member.model_copy(update=dataclasses.asdict(shown))


async def _detail(session, aluno: Aluno, who: Principal, settings: Settings) -> AlunoDetail:
    """The member's detail view: every answer about one member (read, registered, changed)."""
    plano = await session.get(Plano, aluno.plano_id)
    history = (
        await session.execute(
            select(AlunoStatus)
            .where(AlunoStatus.aluno_id == aluno.id)
            .order_by(AlunoStatus.ocorrido_em, AlunoStatus.id)
        )
    ).scalars()
    return AlunoDetail(
        **_as_seen(aluno, who, personal_data.DETAIL, settings).model_dump(),
        plano=PlanoPublic.model_validate(plano),
        historico_status=[StatusPublic.model_validate(s) for s in history],
    )


@router.post(
    "/aluno/registro",
    response_model=AlunoDetail,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        409,
        s409="E-mail or aluno_ref already registered (`email_ja_cadastrado`, "
        "`email_ou_ref_ja_cadastrado`)",
        s422=BAD_PLAN,
    ),
)
async def register_member(
    body: AlunoCreate, session: SessionDep, settings: SettingsDep, who: FrontDeskDep
) -> AlunoDetail:
    """Register a member (admin, recepcao). The member starts active; the activation is the
    first entry of its status history. The answer is the member's detail as the caller's role
    sees it."""
    await _active_plan_or_422(session, body.plano_id)
    if await _email_taken(session, str(body.email)):
        raise ApiError("email_ja_cadastrado")
    aluno = Aluno(**body.model_dump(mode="json"))
    session.add(aluno)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ApiError("email_ou_ref_ja_cadastrado") from exc
    await session.refresh(aluno)
    session.add(
        AlunoStatus(
            aluno_id=aluno.id,
            ativo=True,
            ocorrido_em=aluno.data_matricula,
            motivo="matrícula",
            registrado_por=who.name,
        )
    )
    audit.record(
        session,
        who,
        MEMBER_REGISTERED,
        audit.target("aluno", aluno.id),
        audit.given(body.model_dump(), audit.MEMBER_PERSONAL),
    )
    await session.commit()
    return await _detail(session, aluno, who, settings)


@router.get(
    "/alunos", response_model=Page[AlunoPublic], responses=errors.responses(*errors.AUTHENTICATED)
)
async def search_members(
    session: SessionDep,
    settings: SettingsDep,
    who: StaffDep,
    q: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="Name or e-mail contains")
    ] = None,
    ativo: bool | None = None,
    plano_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    """Search and page through members (any staff role). A list shows e-mail and phone masked
    to analista and recepcao, the birth date to admin only (analista: the age); the member's
    detail (`GET /aluno/{id}`) has what each role needs of one member."""
    query = select(Aluno)
    if q:
        pattern = (
            "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(func.lower(Aluno.nome).like(pattern), func.lower(Aluno.email).like(pattern))
        )
    if ativo is not None:
        query = query.where(Aluno.ativo == ativo)
    if plano_id is not None:
        query = query.where(Aluno.plano_id == plano_id)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(Aluno.nome, Aluno.id).limit(page_size).offset((page - 1) * page_size)
    )
    data = [_as_seen(aluno, who, personal_data.LIST, settings) for aluno in rows.scalars()]
    return Page(data=data, count=count or 0, page=page, page_size=page_size)


@router.get(
    "/aluno/{aluno_id}",
    response_model=AlunoDetail,
    responses=errors.responses(*errors.AUTHENTICATED, 404, s404=NOT_FOUND),
)
async def get_member(
    aluno_id: AlunoId, session: SessionDep, settings: SettingsDep, who: StaffDep
) -> AlunoDetail:
    """A member with its plan and status history (any staff role). E-mail and phone in full to
    every staff role (to call, confirm identity, correct them); the birth date to admin and
    recepcao, to analista only as the age."""
    return await _detail(session, await member_or_404(session, aluno_id), who, settings)


@router.put(
    "/aluno/{aluno_id}",
    response_model=AlunoDetail,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        409,
        s404=NOT_FOUND,
        s409="E-mail already registered (`email_ja_cadastrado`)",
        s422=BAD_PLAN,
    ),
)
async def update_member(
    aluno_id: AlunoId,
    body: AlunoUpdate,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    who: FrontDeskDep,
) -> AlunoDetail:
    """Replace a member's details (admin, recepcao). Status changes go through
    `/ativar` and `/desativar` so they enter the history."""
    aluno = await member_or_404(session, aluno_id, lock=True)
    if body.plano_id != aluno.plano_id:
        await _active_plan_or_422(session, body.plano_id)
    if await _email_taken(session, str(body.email), except_id=aluno_id):
        raise ApiError("email_ja_cadastrado")
    before = {field: getattr(aluno, field) for field in AlunoUpdate.model_fields}
    for field, value in body.model_dump(mode="json").items():
        setattr(aluno, field, value)
    aluno.atualizado_em = datetime.now(UTC)
    audit.record(
        session,
        who,
        MEMBER_CHANGED,
        audit.target("aluno", aluno_id),
        audit.changes(before, body.model_dump(), audit.MEMBER_PERSONAL),
    )
    await session.commit()
    await cache.invalidate_member(aluno_id)
    return await _detail(session, aluno, who, settings)


async def _change_status(
    session,
    cache,
    members,
    settings: Settings,
    aluno_id: int,
    ativo: bool,
    body: StatusChange | None,
    who: Principal,
) -> AlunoDetail:
    aluno = await member_or_404(session, aluno_id, lock=True)
    if aluno.ativo == ativo:
        raise ApiError("aluno_ja_ativo" if ativo else "aluno_ja_inativo")
    now = datetime.now(UTC)
    aluno.ativo = ativo
    aluno.atualizado_em = now
    session.add(
        AlunoStatus(
            aluno_id=aluno_id,
            ativo=ativo,
            ocorrido_em=now,
            motivo=body.motivo if body else None,
            registrado_por=who.name,
        )
    )
    audit.record(
        session,
        who,
        MEMBER_ACTIVATED if ativo else MEMBER_DEACTIVATED,
        audit.target("aluno", aluno_id),
        audit.given({"motivo": body.motivo if body else None}, audit.MEMBER_PERSONAL),
    )
    await session.commit()
    await members.announce(aluno_id)
    await cache.invalidate_member(aluno_id)
    return await _detail(session, aluno, who, settings)


@router.patch(
    "/aluno/{aluno_id}/ativar",
    response_model=AlunoDetail,
    responses=errors.responses(
        *errors.AUTHENTICATED, 404, 409, s404=NOT_FOUND, s409="Already active (`aluno_ja_ativo`)"
    ),
)
async def activate_member(
    aluno_id: AlunoId,
    session: SessionDep,
    cache: CacheDep,
    members: MembersDep,
    settings: SettingsDep,
    who: FrontDeskDep,
    body: StatusChange | None = None,
) -> AlunoDetail:
    """Reactivate a member (admin, recepcao); appends to the status history."""
    return await _change_status(session, cache, members, settings, aluno_id, True, body, who)


@router.patch(
    "/aluno/{aluno_id}/desativar",
    response_model=AlunoDetail,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        409,
        s404=NOT_FOUND,
        s409="Already inactive (`aluno_ja_inativo`)",
    ),
)
async def deactivate_member(
    aluno_id: AlunoId,
    session: SessionDep,
    cache: CacheDep,
    members: MembersDep,
    settings: SettingsDep,
    who: FrontDeskDep,
    body: StatusChange | None = None,
) -> AlunoDetail:
    """Deactivate (cancel) a member (admin, recepcao); this date is the churn event."""
    return await _change_status(session, cache, members, settings, aluno_id, False, body, who)


@router.get(
    "/aluno/{aluno_id}/frequencia",
    response_model=FrequenciaOut,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        s404=NOT_FOUND,
        s422="Bad parameters (`dados_invalidos`) or period (`periodo_invertido`, "
        "`periodo_longo_demais`)",
    ),
)
async def member_attendance(
    aluno_id: AlunoId,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    _: StaffDep,
    inicio: Annotated[
        date | None,
        Query(ge=FIRST_DAY, le=LAST_DAY, description="First day (gym time); default fim-89d"),
    ] = None,
    fim: Annotated[
        date | None,
        Query(ge=FIRST_DAY, le=LAST_DAY, description="Last day, inclusive; default today"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    """Visits in a period (entries paired with exits by the shared rule), weekly frequency and
    average duration (any staff role). Cached 12 h; a new check-in of the member refreshes it."""
    today = datetime.now(settings.tz).date()
    fim = fim or today
    inicio = inicio or fim - timedelta(days=89)
    if inicio > fim:
        raise ApiError("periodo_invertido", inicio="inicio", fim="fim")
    if (fim - inicio).days >= MAX_PERIOD_DAYS:
        raise ApiError("periodo_longo_demais", dias=MAX_PERIOD_DAYS)
    field = f"{inicio}:{fim}:{page}:{page_size}"
    cached = await cache.get_field(frequency_key(aluno_id), field, "frequencia")
    if cached is not None:
        return cached
    seen = await cache.member_version(aluno_id)
    await member_or_404(session, aluno_id)
    result = await member_frequency(
        session, aluno_id, Period(inicio, fim, settings.tz), page=page, page_size=page_size
    )
    body = FrequenciaOut.model_validate(result).model_dump(mode="json")
    await cache.set_field(
        frequency_key(aluno_id),
        field,
        body,
        settings.frequency_cache_seconds,
        aluno_id=aluno_id,
        seen=seen,
    )
    return body
