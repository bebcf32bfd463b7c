from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlalchemy import func, select

from serving import audit
from serving.api.deps import AdminDep, SessionDep
from serving.api.schemas import DispositivoCreate, DispositivoCreated, DispositivoPublic, Message
from serving.db.tables import Dispositivo
from serving.rules import issue_kiosk_key
from serving.vocabulary import DEVICE_CREATED, DEVICE_REVOKED

router = APIRouter(prefix="/admin/dispositivos", tags=["dispositivos"])
DispositivoId = Annotated[int, Path(gt=0, le=2**31 - 1)]


@router.get("", response_model=list[DispositivoPublic])
async def list_devices(session: SessionDep, _: AdminDep) -> list:
    """Kiosks and their key status (admin). Keys themselves are never shown again."""
    return list((await session.execute(select(Dispositivo).order_by(Dispositivo.id))).scalars())


@router.post(
    "",
    response_model=DispositivoCreated,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": Message, "description": "A device with this name exists"}},
)
async def create_device(body: DispositivoCreate, session: SessionDep, admin: AdminDep) -> dict:
    """Register a kiosk and get its API key, shown only in this answer (admin). The kiosk
    sends it as `X-API-Key` and may only post check-ins."""
    taken = await session.scalar(
        select(func.count()).where(func.lower(Dispositivo.nome) == body.nome.lower())
    )
    if taken:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="a device with this name exists")
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
    responses={404: {"model": Message}, 409: {"model": Message, "description": "Already revoked"}},
)
async def revoke_device(dispositivo_id: DispositivoId, session: SessionDep, admin: AdminDep):
    """Revoke a kiosk's key (admin); it stops working within seconds. The row is kept."""
    device = await session.get(Dispositivo, dispositivo_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="device not found")
    if device.revogado_em is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="device already revoked")
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
