"""TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s) and single-use recovery codes.

`verify_totp` accepts the previous, current and next time step, for clock drift and
slow typing, and returns the step it matched; the caller stores it and passes it
back as `last_used_step`, so an observed code cannot be replayed even within its
validity window. The QR code is rendered locally as SVG: the secret never leaves
the server in a request to a chart service.

Recovery codes are ten characters of Crockford base32 (50 bits), shown as
"xxxxx-xxxxx". Input is forgiving (case, spaces, dashes, o/0 and i/l/1 confusions).
They are stored as an HMAC-SHA-256 under a subkey of DATA_ENCRYPTION_KEY: 50 bits
is within reach of an offline search of a plain hash, not of a keyed one.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import unicodedata
from datetime import datetime

import pyotp
import segno

from shared import clock
from shared.security.crypto import derive_subkey

ISSUER = "Runtime Traitors"
TOTP_DIGITS = 6
TOTP_INTERVAL_SECONDS = 30
ACCEPTED_STEP_DRIFT = 1
RECOVERY_CODE_GROUP = 5
RECOVERY_CODE_GROUPS = 2

_CODE_PATTERN = re.compile(r"[0-9]{6}")
_CROCKFORD_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_CROCKFORD_LOOKALIKES = str.maketrans({"o": "0", "i": "1", "l": "1"})
_RECOVERY_PURPOSE = "recovery-code"


def new_totp_secret() -> str:
    """A fresh 160-bit base32 TOTP secret."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str) -> str:
    """The otpauth:// URI an authenticator app imports, labelled with our issuer."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """A self-contained SVG QR code of `uri` (no scripts, links or external resources)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, nl=False)
    return buffer.getvalue().decode("utf-8")


def verify_totp(
    secret: str, code: str, *, last_used_step: int | None, at: datetime | None = None
) -> int | None:
    """The time step `code` matches (current ±1, newer than last_used_step), else None."""
    candidate = "".join(code.split())
    if not _CODE_PATTERN.fullmatch(candidate):
        return None
    totp = _totp(secret)
    current_step = totp.timecode(at if at is not None else clock.now())
    matched: int | None = None
    # Every window step is computed and compared, so timing does not reveal which matched.
    for step in range(current_step - ACCEPTED_STEP_DRIFT, current_step + ACCEPTED_STEP_DRIFT + 1):
        if hmac.compare_digest(totp.generate_otp(step), candidate):
            matched = step
    if matched is None or (last_used_step is not None and matched <= last_used_step):
        return None
    return matched


def new_recovery_codes(count: int = 10) -> list[str]:
    """`count` distinct human-friendly recovery codes such as "7k2qd-9mx0a"."""
    codes: list[str] = []
    while len(codes) < count:
        code = _format_recovery_code(
            "".join(
                secrets.choice(_CROCKFORD_ALPHABET)
                for _ in range(RECOVERY_CODE_GROUP * RECOVERY_CODE_GROUPS)
            )
        )
        if code not in codes:
            codes.append(code)
    return codes


def normalize_recovery_code(code: str) -> str:
    """The canonical "xxxxx-xxxxx" form of what a person typed (garbage stays garbage)."""
    folded = unicodedata.normalize("NFKC", code).casefold()
    compact = "".join(folded.split()).replace("-", "").translate(_CROCKFORD_LOOKALIKES)
    is_well_formed = len(compact) == RECOVERY_CODE_GROUP * RECOVERY_CODE_GROUPS and all(
        char in _CROCKFORD_ALPHABET for char in compact
    )
    return _format_recovery_code(compact) if is_well_formed else compact


def hash_recovery_code(code: str) -> str:
    """Keyed hash of the normalised code, for storage and lookup."""
    normalized = normalize_recovery_code(code).encode("utf-8")
    return hmac.new(derive_subkey(_RECOVERY_PURPOSE), normalized, hashlib.sha256).hexdigest()


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL_SECONDS)


def _format_recovery_code(compact: str) -> str:
    groups = (
        compact[index : index + RECOVERY_CODE_GROUP]
        for index in range(0, len(compact), RECOVERY_CODE_GROUP)
    )
    return "-".join(groups)
