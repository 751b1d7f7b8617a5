"""Passwords and API keys: how they are made, stored and checked.

Passwords are stretched with scrypt (standard library; memory-hard, RFC 7914) because people
choose guessable ones. API keys are 256 random bits, beyond any guessing, so one SHA-256 is
enough to store them and keeps every authenticated request cheap.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# n=2**15, r=8 costs 32 MiB and some 50-100 ms per hash on a laptop: OWASP's scrypt minimum is
# n=2**17 with r=8 only when p=1 and memory allows; 2**15 keeps login usable on small servers.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD_LENGTH = 12
KEY_PREFIX = "kf"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`: the parameters travel with the hash so they can be raised."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# Checked against a fixed hash when the user does not exist, so that answering "no such user"
# takes as long as "wrong password" and user names cannot be probed by timing.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    return None


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret_hash: str
    # The whole key, shown to its owner once and never stored.
    plaintext: str

    @property
    def prefix(self) -> str:
        """What lists and the audit log show, enough to tell keys apart."""
        return f"{KEY_PREFIX}_{self.key_id}"


def hash_key_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> NewApiKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id, hash_key_secret(secret), f"{KEY_PREFIX}_{key_id}_{secret}")


def parse_api_key(plaintext: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    if len(key_id) != 16 or not all(c in "0123456789abcdef" for c in key_id) or not secret:
        return None
    return key_id, secret


def key_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key_secret(secret), stored_hash)
