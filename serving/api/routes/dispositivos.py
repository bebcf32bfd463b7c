from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import func, select

from serving import audit
from serving.api import errors
from serving.api.deps import AdminDep, SessionDep
from serving.api.errors import ApiError
from serving.api.schemas import DispositivoCreate, DispositivoCreated, DispositivoPublic
from serving.db.tables import Dispositivo
from serving.rules import issue_kiosk_key
from serving.vocabulary import DEVICE_CREATED, DEVICE_REVOKED

router = APIRouter(prefix="/admin/dispositivos", tags=["dispositivos"])
DispositivoId = Annotated[int, Path(gt=0, le=2**31 - 1)]


@router.get(
    "",
    response_model=list[DispositivoPublic],
    responses=errors.responses(*errors.AUTHENTICATED),
)
async def list_devices(session: SessionDep, _: AdminDep) -> list:
    """Kiosks and their key status (admin). Keys themselves are never shown again."""
    return list((await session.execute(select(Dispositivo).order_by(Dispositivo.id))).scalars())


@router.post(
    "",
    response_model=DispositivoCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        409,
        s409="A device with this name exists (`dispositivo_ja_existe`)",
    ),
)
async def create_device(body: DispositivoCreate, session: SessionDep, admin: AdminDep) -> dict:
    """Register a kiosk and get its API key, shown only in this answer (admin). The kiosk
    sends it as `X-API-Key` and may only post check-ins."""
    taken = await session.scalar(
        select(func.count()).where(func.lower(Dispositivo.nome) == body.nome.lower())
    )
    if taken:
        raise ApiError("dispositivo_ja_existe")
    issued = issue_kiosk_key()
    device = Dispositivo(
        nome=body.nome, local=body.local, chave_prefixo=issued.prefix, chave_hash=issued.hash
    )
    session.add(device)
    await session.flush()
    # The key is shown once, here; the log names the kiosk only.
    audit.record(
        session,
        admin,
        DEVICE_CREATED,
        audit.target("dispositivo", device.id),
        audit.given({"nome": device.nome, "local": device.local}),
    )
    await session.commit()
    await session.refresh(device)
    return {**DispositivoPublic.model_validate(device).model_dump(), "api_key": issued.key}


@router.delete(
    "/{dispositivo_id}",
    response_model=DispositivoPublic,
    responses=errors.responses(
        *errors.AUTHENTICATED,
        404,
        409,
        s404="No such device (`dispositivo_nao_encontrado`)",
        s409="Already revoked (`dispositivo_ja_revogado`)",
    ),
)
async def revoke_device(dispositivo_id: DispositivoId, session: SessionDep, admin: AdminDep):
    """Revoke a kiosk's key (admin); it stops working within seconds. The row is kept."""
    device = await session.get(Dispositivo, dispositivo_id)
    if device is None:
        raise ApiError("dispositivo_nao_encontrado")
    if device.revogado_em is not None:
        raise ApiError("dispositivo_ja_revogado")
    device.revogado_em = func.now()
    audit.record(
        session,
        admin,
        DEVICE_REVOKED,
        audit.target("dispositivo", device.id),
        {"nome": device.nome},
    )
    await session.commit()
    await session.refresh(device)
    return device
