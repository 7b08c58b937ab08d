"""Secrets at rest: AES-GCM under a DATA_ENCRYPTION_KEY subkey, bound to a context."""

from __future__ import annotations

import base64

import pytest

from shared.config import SettingsError
from shared.security.crypto import DecryptionError, decrypt_secret, encrypt_secret
from tests.conftest import reload_settings
from tests.unit.conftest import OTHER_DATA_ENCRYPTION_KEY

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

pytestmark = pytest.mark.usefixtures("security_env")


def _flip_byte(token: str, index: int) -> str:
    body = token.removeprefix("v1.")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 0x80
    return "v1." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize("plaintext", [SEED, "", "pässwörd 🦊 with unicode"])
def test_encrypted_secret_decrypts_to_the_same_text(plaintext: str) -> None:
    token = encrypt_secret(plaintext, context="user-1")
    assert decrypt_secret(token, context="user-1") == plaintext


def test_ciphertext_is_versioned_url_safe_and_hides_the_secret() -> None:
    token = encrypt_secret(SEED, context="user-1")
    assert token.startswith("v1.")
    assert set(token[3:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert SEED not in token
    assert base64.b32decode(SEED) not in base64.urlsafe_b64decode(token[3:] + "==")


def test_same_secret_encrypts_differently_each_time() -> None:
    assert encrypt_secret(SEED, context="user-1") != encrypt_secret(SEED, context="user-1")


def test_ciphertext_moved_to_another_context_fails() -> None:
    token = encrypt_secret(SEED, context="user-1")
    with pytest.raises(DecryptionError):
        decrypt_secret(token, context="user-2")


@pytest.mark.parametrize("index", [0, 11, 12, 20, -16, -1])
def test_tampered_ciphertext_fails(index: int) -> None:
    token = encrypt_secret(SEED, context="user-1")
    with pytest.raises(DecryptionError):
        decrypt_secret(_flip_byte(token, index), context="user-1")


def test_ciphertext_from_another_data_key_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    token = encrypt_secret(SEED, context="user-1")
    reload_settings(monkeypatch, DATA_ENCRYPTION_KEY=OTHER_DATA_ENCRYPTION_KEY)
    with pytest.raises(DecryptionError):
        decrypt_secret(token, context="user-1")


def test_changing_secret_key_does_not_affect_stored_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = encrypt_secret(SEED, context="user-1")
    reload_settings(monkeypatch, SECRET_KEY="rotated-secret-key-0123456789abcdef0123456")
    assert decrypt_secret(token, context="user-1") == SEED


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1.",
        "v1.AAAA",
        "v2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.!!!!",
        "v1.é",
        SEED,
    ],
)
def test_malformed_ciphertext_fails_with_decryption_error(token: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt_secret(token, context="user-1")


def test_empty_context_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        encrypt_secret(SEED, context="")


def test_short_data_encryption_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    reload_settings(monkeypatch, DATA_ENCRYPTION_KEY="too-short-data-key")
    with pytest.raises(SettingsError, match="DATA_ENCRYPTION_KEY must be at least 32 bytes"):
        encrypt_secret(SEED, context="user-1")
