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
CLOCK_LEEWAY_SECONDS = 10

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
    return jwt.encode(payload, settings.signing_secret, algorithm=JWT_ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> TokenClaims:
    """The claims of a token this API signed and that is valid now. A token whose lifetime is
    longer than the API issues (a forged 10-year token) or that was issued in the future is
    refused, whatever its signature."""
    try:
        payload = jwt.decode(
            token,
            settings.signing_secret,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            leeway=CLOCK_LEEWAY_SECONDS,
        )
        issued_at, expires_at = payload["iat"], payload["exp"]
        lifetime = expires_at - issued_at
        if lifetime > settings.access_token_minutes * 60 + CLOCK_LEEWAY_SECONDS:
            raise InvalidToken("token lifetime is longer than this API issues")
        if issued_at > datetime.now(UTC).timestamp() + CLOCK_LEEWAY_SECONDS:
            raise InvalidToken("token issued in the future")
        user_id = payload["uid"]
        if type(user_id) is not int or not isinstance(payload["sub"], str):
            raise InvalidToken("malformed subject")
        return TokenClaims(username=payload["sub"], role=payload["role"], user_id=user_id)
    except (jwt.PyJWTError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_kiosk_key() -> str:
    return KIOSK_KEY_PREFIX + secrets.token_urlsafe(32)


def sha256_hex(value: str) -> str:
    """For high-entropy random secrets (refresh tokens, kiosk keys) a fast hash is enough."""
    return hashlib.sha256(value.encode()).hexdigest()
