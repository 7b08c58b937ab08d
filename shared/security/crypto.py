"""Encryption of small secrets at rest (such as TOTP seeds) and per-purpose subkeys.

Every key here comes from DATA_ENCRYPTION_KEY through HKDF-SHA256 with a distinct
`info` label per purpose, so the password pepper, the recovery-code key and the
AES-GCM key never coincide, and SECRET_KEY (which signs tokens) is never used.

Ciphertexts read "v1." + base64url(nonce || ciphertext || tag). AES-256-GCM with a
random 96-bit nonce; the caller's context string (usually the owner's id) is the
associated data, so a ciphertext copied onto another user's record fails to decrypt.
Rotating DATA_ENCRYPTION_KEY therefore needs a re-encryption (and invalidates
password hashes, which are peppered with a subkey of it).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.config import SettingsError, get_settings
from shared.production_policy import MIN_SECRET_BYTES

_VERSION_PREFIX = "v1."
_NONCE_BYTES = 12
_TAG_BYTES = 16
_SUBKEY_BYTES = 32
_INFO_PREFIX = b"runtime-traitors/v1/"
_AT_REST_PURPOSE = "secret-at-rest"


class DecryptionError(Exception):
    """The value is not a ciphertext we wrote for this context with this key."""


def derive_subkey(purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from DATA_ENCRYPTION_KEY."""
    return _hkdf(get_settings().DATA_ENCRYPTION_KEY, purpose)


@functools.lru_cache(maxsize=16)
def _hkdf(master_key: str, purpose: str) -> bytes:
    # Cached because HKDF runs on every login and every encryption; the key
    # material already lives in the settings object for the process lifetime.
    master = master_key.encode("utf-8")
    if len(master) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"DATA_ENCRYPTION_KEY must be at least {MIN_SECRET_BYTES} bytes; "
            "set a long random value"
        )
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=_SUBKEY_BYTES,
        salt=None,
        info=_INFO_PREFIX + purpose.encode("utf-8"),
    )
    return hkdf.derive(master)


def encrypt_secret(plaintext: str, *, context: str) -> str:
    """Encrypt a short secret, bound to `context` (e.g. the owner's user id)."""
    _require_context(context)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    encoded = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
    return _VERSION_PREFIX + encoded


def decrypt_secret(token: str, *, context: str) -> str:
    """Decrypt what `encrypt_secret` produced for the same context; else DecryptionError."""
    _require_context(context)
    if not token.startswith(_VERSION_PREFIX):
        raise DecryptionError("unknown ciphertext version")
    raw = _b64url_decode(token[len(_VERSION_PREFIX) :])
    if len(raw) < _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("ciphertext too short")
    nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    try:
        plaintext = _cipher().decrypt(nonce, sealed, context.encode("utf-8"))
    except InvalidTag:
        raise DecryptionError("ciphertext does not authenticate") from None
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("plaintext is not UTF-8") from None


def _cipher() -> AESGCM:
    return AESGCM(derive_subkey(_AT_REST_PURPOSE))


def _require_context(context: str) -> None:
    # An empty context would let a ciphertext move freely between records.
    if not context:
        raise ValueError("context must be a non-empty string")


def _b64url_decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        # validate=True: characters outside the alphabet are an error, not skipped.
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DecryptionError("ciphertext is not base64url") from None
