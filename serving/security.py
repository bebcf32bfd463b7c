"""Passwords (argon2id), JWT access tokens, opaque refresh tokens and kiosk API keys."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from serving.config import Settings

JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "gympulse-api"
JWT_ISSUER = "gympulse"
KIOSK_KEY_PREFIX = "gpk_"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    username: str
    role: str
    user_id: int


class InvalidToken(Exception):
    pass


def create_access_token(settings: Settings, *, user_id: int, username: str, role: str) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": username,
        "uid": user_id,
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
    }
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            leeway=10,
        )
        return TokenClaims(username=payload["sub"], role=payload["role"], user_id=payload["uid"])
    except (jwt.PyJWTError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_kiosk_key() -> str:
    return KIOSK_KEY_PREFIX + secrets.token_urlsafe(32)


def sha256_hex(value: str) -> str:
    """For high-entropy random secrets (refresh tokens, kiosk keys) a fast hash is enough."""
    return hashlib.sha256(value.encode()).hexdigest()
