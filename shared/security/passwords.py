"""Password hashing and the password policy.

Hashing scheme ("$hmac-bcrypt$v=1" + a standard "$2b$<cost>$..." bcrypt string):

1. The password is normalised with NFKC, so the same password typed on another
   keyboard, OS or input method (composed vs decomposed accents, full-width forms,
   ligatures) still matches, and the policy judges the same text that is hashed.
2. It is pre-hashed as base64(HMAC-SHA-256(pepper, utf-8 bytes)). bcrypt reads at most
   72 bytes (bcrypt 5 raises beyond that) and classic implementations stop at a NUL
   byte; the 44-byte base64 text has neither problem, so every character of a
   128-character emoji password counts. A raw binary digest is never fed to bcrypt
   because it may contain NULs, which would make the hash portable only by luck.
   The pepper is an HKDF subkey of DATA_ENCRYPTION_KEY (label "password-prehash"),
   so a stolen database alone cannot be brute-forced offline, and the pre-hash is
   not a bare SHA-256 that could be matched against precomputed tables.
3. bcrypt with cost BCRYPT_ROUNDS. `needs_rehash` reports hashes whose cost or scheme
   differs from the current one so the login flow can upgrade them.

The marker prefix lets the scheme evolve (a v=2 or a different algorithm) while old
hashes keep verifying. Rotating DATA_ENCRYPTION_KEY invalidates every password hash.

Policy: 12..128 code points after NFKC; must not contain the email's local part;
zxcvbn score at least 3 with the email and name as user inputs. zxcvbn's l33t matcher
is quadratic in length times up to ~80 substitution tables: a 128-character string of
l33t symbols takes seconds, which would let one request pin a worker. Only the first
32 characters are scored (worst case about a third of a second, typical a few
milliseconds). A longer password whose first 32 characters score 3 or more is
accepted: an attacker has to guess those characters too, so the rest only adds work.
The email-name check still reads the whole password.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import threading
import unicodedata

import bcrypt
import zxcvbn

from shared.config import get_settings
from shared.security.crypto import derive_subkey

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 128
MIN_ZXCVBN_SCORE = 3
ZXCVBN_SCORED_PREFIX_CHARS = 32
# A one- or two-letter local part ("jo@...") would forbid half the alphabet.
MIN_EMAIL_NAME_CHARS = 3

_SCHEME_PREFIX = "$hmac-bcrypt$v=1"
_PEPPER_PURPOSE = "password-prehash"
_FINGERPRINT_PURPOSE = "password-fingerprint"
_BCRYPT_HASH = re.compile(r"\$2b\$[0-9]{2}\$[./A-Za-z0-9]{53}")
_PRODUCT_WORDS = ("runtime", "traitors", "runtimetraitors")
_DUMMY_PASSWORD = "dummy password for unknown accounts"  # noqa: S105 - never a real credential

# zxcvbn stores the user inputs in a module-level dictionary for the duration of a
# call, so two concurrent calls would see each other's email and name.
_zxcvbn_lock = threading.Lock()


class WeakPasswordError(ValueError):
    """The password breaks the policy; the message is written for the person typing it."""


def normalize_password(password: str) -> str:
    """The NFKC form that is both judged by the policy and hashed."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Hash a password with the current scheme and cost."""
    return _hash_at_cost(password, get_settings().BCRYPT_ROUNDS)


def verify_password(password: str, hashed: str) -> bool:
    """True when `password` matches `hashed`; False for a wrong password or unusable hash."""
    bcrypt_hash = _bcrypt_part(hashed)
    if bcrypt_hash is None:
        return False
    try:
        return bcrypt.checkpw(_prehash(password), bcrypt_hash.encode("ascii"))
    except ValueError:
        # A corrupted stored hash is a failed login, not a server error.
        return False


def needs_rehash(hashed: str) -> bool:
    """True when the hash uses another scheme or cost than BCRYPT_ROUNDS now asks for."""
    bcrypt_hash = _bcrypt_part(hashed)
    if bcrypt_hash is None:
        return True
    return _bcrypt_cost(bcrypt_hash) != get_settings().BCRYPT_ROUNDS


def verify_dummy_password(password: str) -> None:
    """Spend the time of one real verification, for logins with an unknown email."""
    verify_password(password, _dummy_hash(get_settings().BCRYPT_ROUNDS))


def verify_and_update(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Check a password in one call: (matches, a new hash to store or None).

    ``hashed`` None (no such account) costs one real verification against a cached
    dummy hash, so a caller cannot tell unknown accounts by the time taken. The new
    hash is given only for a match whose stored hash uses another scheme or cost.
    """
    if hashed is None:
        verify_dummy_password(password)
        return False, None
    if not verify_password(password, hashed):
        return False, None
    return True, (hash_password(password) if needs_rehash(hashed) else None)


def fingerprint(hashed: str) -> str:
    """A keyed digest of a stored hash: it changes whenever the password does.

    A reset token keeps the fingerprint of the hash it was issued against, so a token
    mailed before any password change is refused after it. Keyed, so the stored
    fingerprint says nothing about the hash itself.
    """
    mac = hmac.new(derive_subkey(_FINGERPRINT_PURPOSE), hashed.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()


def check_password_policy(password: str, *, email: str, full_name: str | None) -> None:
    """Raise WeakPasswordError, with a reason a person understands, unless acceptable."""
    normalized = normalize_password(password)
    if len(normalized) < MIN_PASSWORD_CHARS:
        raise WeakPasswordError(f"Password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(normalized) > MAX_PASSWORD_CHARS:
        raise WeakPasswordError(f"Password must be at most {MAX_PASSWORD_CHARS} characters")
    folded = normalized.casefold()
    if any(name in folded for name in _email_names(email)):
        raise WeakPasswordError("Password must not contain your email name")
    _check_guessability(normalized, _user_inputs(email, full_name))


def _check_guessability(normalized: str, user_inputs: list[str]) -> None:
    scored = normalized[:ZXCVBN_SCORED_PREFIX_CHARS]
    with _zxcvbn_lock:
        result = zxcvbn.zxcvbn(scored, user_inputs=user_inputs)
    if result["score"] >= MIN_ZXCVBN_SCORE:
        return
    feedback = result["feedback"]
    sentences = [feedback["warning"] or "This password is too easy to guess."]
    sentences.extend(feedback["suggestions"])
    raise WeakPasswordError(" ".join(_as_sentence(text) for text in sentences if text))


def _as_sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _email_names(email: str) -> set[str]:
    local_part = normalize_password(email).casefold().rpartition("@")[0]
    # "ann+shop@" is still Ann's address: the part before the tag counts as well.
    candidates = {local_part, local_part.partition("+")[0]}
    return {name for name in candidates if len(name) >= MIN_EMAIL_NAME_CHARS}


def _user_inputs(email: str, full_name: str | None) -> list[str]:
    local_part = email.rpartition("@")[0]
    inputs = [email, *_email_names(email), *re.split(r"[._+-]", local_part), *_PRODUCT_WORDS]
    if full_name:
        inputs.extend([full_name, *full_name.split()])
    return [normalize_password(text) for text in inputs if text]


def _hash_at_cost(password: str, rounds: int) -> str:
    digest = bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=rounds))
    return _SCHEME_PREFIX + digest.decode("ascii")


def _prehash(password: str) -> bytes:
    mac = hmac.new(
        derive_subkey(_PEPPER_PURPOSE),
        normalize_password(password).encode("utf-8"),
        hashlib.sha256,
    )
    return base64.b64encode(mac.digest())


def _bcrypt_part(hashed: str) -> str | None:
    if not hashed.startswith(_SCHEME_PREFIX):
        return None
    bcrypt_hash = hashed[len(_SCHEME_PREFIX) :]
    return bcrypt_hash if _BCRYPT_HASH.fullmatch(bcrypt_hash) else None


def _bcrypt_cost(bcrypt_hash: str) -> int:
    # "$2b$12$<22 salt + 31 digest>": the cost is the two digits after the ident.
    return int(bcrypt_hash[4:6])


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return _hash_at_cost(_DUMMY_PASSWORD, rounds)
