"""Staff users and kiosk keys from the command line (sync; the API has its own routes)."""

from sqlalchemy import func, select

from serving.db.engine import session_scope
from serving.db.tables import Dispositivo, Usuario
from serving.security import hash_password, new_kiosk_key, sha256_hex

MIN_PASSWORD_LENGTH = 10


class UserError(Exception):
    pass


def upsert_admin(username: str, password: str, email: str | None = None) -> bool:
    """Create the admin, or reset its password and role. Returns True when created."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with session_scope() as session:
        user = session.execute(
            select(Usuario).where(func.lower(Usuario.username) == username.lower())
        ).scalar_one_or_none()
        if user is None:
            session.add(
                Usuario(
                    username=username,
                    email=email,
                    role="admin",
                    senha_hash=hash_password(password),
                )
            )
            return True
        user.senha_hash = hash_password(password)
        user.role = "admin"
        user.ativo = True
        return False


def create_device_key(name: str, local: str | None = None) -> str:
    with session_scope() as session:
        taken = session.scalar(
            select(func.count()).where(func.lower(Dispositivo.nome) == name.lower())
        )
        if taken:
            raise UserError(f"a device named '{name}' already exists")
        key = new_kiosk_key()
        session.add(
            Dispositivo(nome=name, local=local, chave_prefixo=key[:12], chave_hash=sha256_hex(key))
        )
        return key
