"""Staff users and kiosk keys from the command line (sync; the API has its own routes). Each
change enters the audit log as the command line's (`audit.CLI`)."""

from sqlalchemy import func, select

from serving import audit, rules
from serving.db.engine import session_scope
from serving.db.tables import Dispositivo, Usuario
from serving.security import hash_password
from serving.vocabulary import ADMIN, DEVICE_CREATED, USER_CHANGED, USER_CREATED


class UserError(Exception):
    pass


def upsert_admin(
    username: str, password: str, email: str | None = None, *, database_url: str
) -> bool:
    """Create the admin, or reset its password and role. Returns True when created."""
    if problem := rules.password_problem(password):
        raise UserError(problem)
    with session_scope(database_url) as session:
        user = session.execute(
            select(Usuario).where(func.lower(Usuario.username) == username.lower())
        ).scalar_one_or_none()
        if user is None:
            user = Usuario(
                username=username, email=email, role=ADMIN, senha_hash=hash_password(password)
            )
            session.add(user)
            session.flush()
            audit.record(
                session,
                audit.CLI,
                USER_CREATED,
                audit.target("usuario", user.id),
                audit.given(
                    {"username": username, "role": ADMIN, "email": email}, audit.USER_PERSONAL
                ),
            )
            return True
        before = {"role": user.role, "ativo": user.ativo}
        user.senha_hash = hash_password(password)
        user.role = ADMIN
        user.ativo = True
        audit.record(
            session,
            audit.CLI,
            USER_CHANGED,
            audit.target("usuario", user.id),
            {"senha": audit.CHANGED, **audit.changes(before, {"role": ADMIN, "ativo": True})},
        )
        return False


def create_device_key(name: str, local: str | None = None, *, database_url: str) -> str:
    """Register a kiosk; its key (`rules.issue_kiosk_key`, as the API route) is returned once."""
    with session_scope(database_url) as session:
        taken = session.scalar(
            select(func.count()).where(func.lower(Dispositivo.nome) == name.lower())
        )
        if taken:
            raise UserError(f"a device named '{name}' already exists")
        issued = rules.issue_kiosk_key()
        device = Dispositivo(
            nome=name, local=local, chave_prefixo=issued.prefix, chave_hash=issued.hash
        )
        session.add(device)
        session.flush()
        audit.record(
            session,
            audit.CLI,
            DEVICE_CREATED,
            audit.target("dispositivo", device.id),
            audit.given({"nome": name, "local": local}),
        )
        return issued.key
