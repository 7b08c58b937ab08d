"""Pinned details of the security modules: reservations, counters, fixed vectors, clocks.

Each test here stands for a way the code could silently weaken (the mutants mutmut
makes of it): a lock that lasts too short, a counter that never expires, a renamed
key label that orphans every stored hash, a cost misread that rehashes every login.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.db import collections
from shared.errors import TooManyRequests, Unauthorized
from shared.identity import Caller
from shared.repositories import login_throttle, reset_mail_quota
from shared.security import passwords, totp
from shared.services import attempts
from tests.conftest import reload_settings

pytestmark = pytest.mark.usefixtures("security_env")

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
EMAIL = "someone@example.com"
CALLER = Caller(user_id=None, ip="203.0.113.1", request_id="r" * 32)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """A settable clock: ``at[0] = time`` moves the app's now."""
    now = [T0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    return now


def reserve(limit: int = 3) -> datetime | None:
    return login_throttle.reserve(EMAIL, max_attempts=limit, window=WINDOW)


# --- login_throttle.reserve -------------------------------------------------------------


def test_the_limit_is_exact_and_the_lock_runs_from_the_last_granted_attempt(
    at: list[datetime],
) -> None:
    granted = [reserve() for _ in range(2)]
    at[0] = T0 + timedelta(minutes=1)
    third = reserve()
    refused = reserve()

    assert granted == [None, None]
    assert third is None
    assert refused == T0 + timedelta(minutes=1) + WINDOW


def test_a_refusal_does_not_extend_the_lock(at: list[datetime]) -> None:
    for _ in range(3):
        reserve()
    at[0] = T0 + timedelta(minutes=10)

    assert reserve() == T0 + WINDOW
    assert reserve() == T0 + WINDOW


def test_the_lock_ends_exactly_one_window_after_the_last_attempt(at: list[datetime]) -> None:
    for _ in range(3):
        reserve()

    at[0] = T0 + WINDOW - timedelta(milliseconds=1)
    still_locked = reserve()
    at[0] = T0 + WINDOW
    reopened = reserve()
    next_one = reserve()

    assert still_locked == T0 + WINDOW
    assert reopened is None
    assert next_one is None, "the count started afresh at one"


def test_a_count_a_window_old_starts_afresh_even_below_the_limit(at: list[datetime]) -> None:
    reserve()
    reserve()
    at[0] = T0 + WINDOW

    results = [reserve() for _ in range(3)]

    assert results == [None, None, None]
    assert reserve() is not None


def test_the_record_expires_with_its_window_and_keeps_its_count(at: list[datetime]) -> None:
    reserve()
    at[0] = T0 + timedelta(minutes=2)
    reserve()

    record = login_throttle.find(EMAIL)

    assert record is not None
    assert record["attempts"] == 2
    assert record["last_at"] == at[0]
    assert record["expires_at"] == at[0] + WINDOW


def test_records_expire_by_a_ttl_index() -> None:
    indexes = collections.login_throttle().index_information()

    ttl = [spec for spec in indexes.values() if spec["key"] == [("expires_at", 1)]]
    assert ttl
    assert ttl[0]["expireAfterSeconds"] == 0


def test_clear_forgets_only_that_email(at: list[datetime]) -> None:
    for _ in range(3):
        reserve()
    login_throttle.reserve("other@example.com", max_attempts=3, window=WINDOW)

    login_throttle.clear(EMAIL)

    assert reserve() is None
    assert login_throttle.find("other@example.com") is not None


def test_emails_are_stored_only_as_hashes() -> None:
    reserve()

    record = collections.login_throttle().find_one({})

    assert record is not None
    assert EMAIL not in str(record)
    assert record["_id"] == login_throttle.key_for(EMAIL)
    assert len(record["_id"]) == 64


class _RacingCollection:
    """Delegates to a collection, but the first upsert loses an insert race."""

    def __init__(self, target: Any, failures: int = 1) -> None:
        self.target = target
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)

    def _maybe_race(self, method: str, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("upsert") and self.failures > 0:
            self.failures -= 1
            # The winner of the race inserted the first attempt meanwhile.
            getattr(self.target, method)(*args, **kwargs)
            raise DuplicateKeyError("E11000 duplicate key")

    def update_one(self, *args: Any, **kwargs: Any) -> Any:
        self._maybe_race("update_one", *args, **kwargs)
        return self.target.update_one(*args, **kwargs)

    def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
        self._maybe_race("find_one_and_update", *args, **kwargs)
        return self.target.find_one_and_update(*args, **kwargs)


def test_losing_the_first_insert_race_still_grants_and_counts_both(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    real = collections.login_throttle()
    racing = _RacingCollection(real)
    monkeypatch.setattr(collections, "login_throttle", lambda: racing)

    assert reserve() is None
    record = real.find_one({})
    assert record is not None
    assert record["attempts"] == 2


def test_a_contention_that_never_settles_refuses(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    real = collections.login_throttle()

    class AlwaysRacing(_RacingCollection):
        def update_one(self, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("upsert"):
                raise DuplicateKeyError("E11000 duplicate key")
            return self.target.update_one(*args, **kwargs)

    monkeypatch.setattr(collections, "login_throttle", lambda: AlwaysRacing(real))

    assert reserve() == T0 + WINDOW


def test_concurrent_reservations_grant_exactly_the_limit() -> None:
    gate = threading.Barrier(12)
    results: list[datetime | None] = []

    def one() -> None:
        gate.wait()
        results.append(reserve(limit=5))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(None) == 5


# --- services.attempts -------------------------------------------------------------------


def test_a_refused_attempt_is_429_login_locked_with_the_seconds_left(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    reload_settings(monkeypatch, LOGIN_MAX_FAILURES="2", LOGIN_LOCKOUT_MINUTES="15")
    at[0] = T0
    for _ in range(2):
        with pytest.raises(WrongSecret), _attempt():
            raise WrongSecret
    at[0] = T0 + timedelta(minutes=5, milliseconds=500)

    with pytest.raises(TooManyRequests) as refused, _attempt():
        pytest.fail("a locked attempt must not run the check")

    assert refused.value.error_code == "login_locked"
    assert refused.value.headers == {"Retry-After": "600"}  # 599.5 s, rounded up


def test_a_successful_check_clears_the_count(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    reload_settings(monkeypatch, LOGIN_MAX_FAILURES="2")
    with pytest.raises(WrongSecret), _attempt():
        raise WrongSecret
    with _attempt():
        pass

    assert login_throttle.find(EMAIL) is None


def test_the_last_second_of_a_lock_is_still_one_second(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    reload_settings(monkeypatch, LOGIN_MAX_FAILURES="1", LOGIN_LOCKOUT_MINUTES="1")
    with pytest.raises(WrongSecret), _attempt():
        raise WrongSecret
    at[0] = T0 + timedelta(seconds=59, milliseconds=999)

    with pytest.raises(TooManyRequests) as refused, _attempt():
        pass

    assert refused.value.headers == {"Retry-After": "1"}


class WrongSecret(Exception):
    """Stands for the 401/400 a failed check raises inside the reservation."""


def _attempt() -> Any:
    return attempts.reserved_attempt(
        EMAIL, caller=CALLER, target_id=None, refused_action="auth.login_failed"
    )


# --- reset mail quota --------------------------------------------------------------------


def test_the_reset_mail_quota_allows_exactly_the_limit_per_window(at: list[datetime]) -> None:
    hour = timedelta(hours=1)
    taken = [reset_mail_quota.take(EMAIL, limit=3, window=hour) for _ in range(4)]
    at[0] = T0 + hour
    next_hour = reset_mail_quota.take(EMAIL, limit=3, window=hour)

    assert taken == [True, True, True, False]
    assert next_hour is True


def test_the_reset_mail_counter_expires_at_the_end_of_its_window(at: list[datetime]) -> None:
    at[0] = T0 + timedelta(minutes=20)
    reset_mail_quota.take(EMAIL, limit=3, window=timedelta(hours=1))

    counter = collections.rate_limits().find_one({})

    assert counter is not None
    assert counter["expires_at"] == T0 + timedelta(hours=1)
    assert EMAIL not in counter["_id"]


def test_a_lost_insert_race_on_the_mail_counter_still_counts(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    real = collections.rate_limits()
    racing = _RacingCollection(real)
    monkeypatch.setattr(collections, "rate_limits", lambda: racing)

    assert reset_mail_quota.take(EMAIL, limit=3, window=timedelta(hours=1)) is True
    counter = real.find_one({})
    assert counter is not None
    assert counter["count"] == 2


def test_the_rate_limit_counts_a_hit_that_lost_the_insert_race(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.http import ratelimit

    real = collections.rate_limits()
    racing = _RacingCollection(real)
    monkeypatch.setattr(collections, "rate_limits", lambda: racing)
    now = 1_900_000_050.0  # the window runs from ...020 to ...080

    state = ratelimit.hit("auth:203.0.113.1", 10, now=now)

    assert state.remaining == 8, "the racing winner's hit and ours are both counted"
    counter = real.find_one({})
    assert counter is not None
    assert counter["expires_at"] == datetime.fromtimestamp(1_900_000_080, UTC)


# --- passwords -----------------------------------------------------------------------------

# Fixed vectors under tests.unit.conftest.DATA_ENCRYPTION_KEY: a renamed HKDF label or a
# changed pre-hash would orphan every stored hash and recovery code, and must fail here.
STORED_HASH = "$hmac-bcrypt$v=1$2b$04$abcdefghijklmnopqrstuuZQw9trzgFl..ylEZ83sGraY840J2Mgi"
STORED_PASSWORD = "violet tractor humming under seaweed"
RECOVERY_CODE = "7k2qd-9mx0a"
RECOVERY_CODE_HASH = "0fbc7b7533ca63865be00a3255df76d6c7199479f1e263d251cb592a21e8cfc8"
FINGERPRINT_OF_ABC = "c7c34a050f4eb4373fb5796e5a2d55cf765126861eb8bedf3a232a7941903835"


def test_a_hash_stored_by_an_earlier_release_still_verifies() -> None:
    assert passwords.verify_password(STORED_PASSWORD, STORED_HASH)
    assert not passwords.verify_password(STORED_PASSWORD + " ", STORED_HASH)


def test_a_recovery_code_hash_stored_by_an_earlier_release_still_matches() -> None:
    assert totp.hash_recovery_code(RECOVERY_CODE) == RECOVERY_CODE_HASH
    assert totp.hash_recovery_code(" 7K2QD 9MXOA ") == RECOVERY_CODE_HASH  # typed loosely


def test_the_password_fingerprint_is_a_fixed_keyed_digest() -> None:
    assert passwords.fingerprint("$hmac-bcrypt$v=1$2b$04$abc") == FINGERPRINT_OF_ABC
    assert passwords.fingerprint("$hmac-bcrypt$v=1$2b$04$abd") != FINGERPRINT_OF_ABC


def test_a_password_zxcvbn_scores_two_is_refused() -> None:
    """The floor is a score of 3: "sunshine2024x" scores exactly 2."""
    with pytest.raises(passwords.WeakPasswordError):
        passwords.check_password_policy("sunshine2024x", email="ann@example.com", full_name=None)
    passwords.check_password_policy("Summer2019!!", email="ann@example.com", full_name=None)


@pytest.mark.parametrize("rounds", ["10", "11"])
def test_two_digit_costs_are_read_whole(monkeypatch: pytest.MonkeyPatch, rounds: str) -> None:
    reload_settings(monkeypatch, BCRYPT_ROUNDS=rounds)
    salt = f"$2b${rounds}$".encode() + b"abcdefghijklmnopqrstuu"
    hashed = passwords._SCHEME_PREFIX + bcrypt.hashpw(b"x", salt).decode()

    assert not passwords.needs_rehash(hashed)
    assert passwords.needs_rehash(hashed.replace(f"$2b${rounds}$", "$2b$12$"))


def test_verify_and_update_gives_a_new_hash_only_when_the_cost_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    current = passwords.hash_password(STORED_PASSWORD)

    assert passwords.verify_and_update(STORED_PASSWORD, current) == (True, None)
    assert passwords.verify_and_update("wrong password 123", current) == (False, None)
    reload_settings(monkeypatch, BCRYPT_ROUNDS="5")
    matches, new_hash = passwords.verify_and_update(STORED_PASSWORD, current)
    assert matches
    assert new_hash is not None
    assert new_hash.startswith("$hmac-bcrypt$v=1$2b$05$")
    assert passwords.verify_password(STORED_PASSWORD, new_hash)


def test_an_unknown_account_costs_a_check_but_never_a_new_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dummy hash is made once: hashing on every unknown email would be a timing oracle."""
    passwords.verify_and_update("warm the cache", None)
    hashed: list[bytes] = []
    checked: list[bytes] = []
    real_hashpw, real_checkpw = bcrypt.hashpw, bcrypt.checkpw

    def counting_hashpw(password: bytes, salt: bytes) -> bytes:
        hashed.append(salt)
        return real_hashpw(password, salt)

    def counting_checkpw(password: bytes, stored: bytes) -> bool:
        checked.append(stored)
        return real_checkpw(password, stored)

    monkeypatch.setattr(bcrypt, "hashpw", counting_hashpw)
    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)

    results = [passwords.verify_and_update("someone's guess", None) for _ in range(3)]

    assert results == [(False, None)] * 3
    assert hashed == []
    assert len(checked) == 3


# --- sessions ------------------------------------------------------------------------------


def test_a_forged_access_token_is_401_invalid_token() -> None:
    from shared.services import sessions

    with pytest.raises(Unauthorized) as rejected:
        sessions.verify_access_token("eyJhbGciOiJIUzI1NiJ9.e30.forged")

    assert rejected.value.error_code == "invalid_token"
    assert rejected.value.detail == "The access token is invalid or expired"


def _frozen_user_after_revoke_all(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[dict[str, Any], list[datetime], list[float]]:
    """A user whose revoke-all happened this millisecond; a clock that moves only on sleep."""
    from shared.services import sessions

    now = [clock.now()]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(milliseconds=1)

    monkeypatch.setattr(clock, "now", lambda: now[0])
    monkeypatch.setattr(sessions.time, "sleep", sleep)
    user = {"_id": ObjectId(), "role": "user", "tokens_valid_after": now[0]}
    return user, now, slept


def test_a_login_right_after_log_out_everywhere_is_not_born_revoked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.security import tokens
    from shared.services import sessions

    user, _, slept = _frozen_user_after_revoke_all(monkeypatch)

    issued = sessions.start_session(user)
    claims = tokens.decode_access_token(issued.access_token)

    assert claims.issued_at > user["tokens_valid_after"]
    assert not sessions.cut_off(claims.issued_at, claims.session_id, user)
    assert slept == [0.001], "one millisecond waited, no more"


def test_a_clock_that_stands_still_cannot_hang_a_login(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.services import sessions

    user, _, slept = _frozen_user_after_revoke_all(monkeypatch)
    monkeypatch.setattr(sessions.time, "sleep", slept.append)  # time never moves

    sessions.start_session(user)

    assert slept == [0.001] * 5


def test_a_token_of_the_revoke_all_millisecond_is_cut_off() -> None:
    from shared.services import sessions

    instant = clock.now()
    user = {"tokens_valid_after": instant, "spared_session_id": None}

    assert sessions.cut_off(instant, "s1", user)
    assert sessions.cut_off(instant - timedelta(milliseconds=1), "s1", user)
    assert not sessions.cut_off(instant + timedelta(milliseconds=1), "s1", user)
    spared = {**user, "spared_session_id": "s1"}
    assert not sessions.cut_off(instant, "s1", spared)
    assert sessions.cut_off(instant, "s2", spared)


def test_the_clock_skew_allowance_is_ten_seconds() -> None:
    import time

    import jwt

    from shared.config import get_settings
    from shared.security import tokens

    settings = get_settings()

    def token(**claims: float) -> str:
        now = time.time()
        payload: dict[str, Any] = {
            "sub": "u",
            "role": "user",
            "iat": now - 600,
            "nbf": now - 600,
            "exp": now + 600,
            "jti": "j",
            "iss": settings.JWT_ISSUER,
            "aud": settings.JWT_AUDIENCE,
            "typ": "access",
            **claims,
        }
        return jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")

    now = int(time.time())
    assert tokens.decode_access_token(token(exp=now - 9)).user_id == "u"
    assert tokens.decode_access_token(token(nbf=now + 9)).user_id == "u"
    with pytest.raises(tokens.InvalidTokenError):
        tokens.decode_access_token(token(exp=now - 10))
    with pytest.raises(tokens.InvalidTokenError):
        tokens.decode_access_token(token(nbf=now + 12))


def test_logging_out_a_token_without_a_session_denies_exactly_that_token() -> None:
    """Tokens minted before sessions existed carry no sid: logout denies their jti."""
    from shared.identity import Principal, Role
    from shared.repositories import users
    from shared.security import tokens
    from shared.services import sessions

    user = users.insert_user(
        email="legacy@example.com", password_hash="x", full_name=None, role="user"
    )
    issued = tokens.create_access_token(user_id=str(user["_id"]), role="user")
    claims = tokens.decode_access_token(issued.token)
    other = tokens.decode_access_token(
        tokens.create_access_token(user_id=str(user["_id"]), role="user").token
    )
    principal = Principal(
        user_id=str(user["_id"]),
        role=Role.USER,
        token_id=claims.jti,
        session_id=None,
        token_expires_at=claims.expires_at,
        user=user,
    )

    sessions.end_session(principal)

    with pytest.raises(Unauthorized):
        sessions.load_principal(claims)
    assert sessions.load_principal(other).user_id == str(user["_id"])
    stored = users.find_by_id(user["_id"])
    assert stored is not None
    assert stored["revoked_access"] == [
        {"exp": claims.expires_at + timedelta(seconds=tokens.LEEWAY_SECONDS), "jti": claims.jti}
    ]


def test_clear_leaves_no_record_of_that_email_behind(at: list[datetime]) -> None:
    login_throttle.reserve("other@example.com", max_attempts=3, window=WINDOW)
    reserve()

    login_throttle.clear(EMAIL)

    assert login_throttle.find(EMAIL) is None
    other = login_throttle.find("other@example.com")
    assert other is not None
    assert other["_id"] == login_throttle.key_for("other@example.com")


def test_a_weak_password_is_explained_in_whole_sentences() -> None:
    with pytest.raises(passwords.WeakPasswordError) as weak:
        passwords.check_password_policy("johnsmith12345", email="ann@example.com", full_name=None)

    assert str(weak.value) == (
        "This password is too easy to guess. Add another word or two. Uncommon words are better."
    )


@pytest.mark.parametrize(
    ("text", "sentence"),
    [("  Avoid dates  ", "Avoid dates."), ("Done!", "Done!"), ("Why?", "Why?"), ("Ok.", "Ok.")],
)
def test_feedback_lines_become_sentences(text: str, sentence: str) -> None:
    assert passwords._as_sentence(text) == sentence


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("7k2qd-9mx0a", "7k2qd-9mx0a"),
        ("7K2-QD9MX-0A", "7k2qd-9mx0a"),  # dashes anywhere, any case
        ("7k2qd 9mxoa", "7k2qd-9mx0a"),  # o is read as 0
        ("7k2qd9mx0u", "7k2qd9mx0u"),  # u is not in the alphabet: stays garbage
        ("abcdefghijkl", "abcdefgh1jk1"),  # too long: stays garbage, unformatted
    ],
)
def test_recovery_codes_are_read_the_way_people_type_them(typed: str, canonical: str) -> None:
    assert totp.normalize_recovery_code(typed) == canonical


def test_a_revoked_access_token_says_so() -> None:
    from shared.repositories import users
    from shared.security import tokens
    from shared.services import sessions

    user = users.insert_user(
        email="gone@example.com", password_hash="x", full_name=None, role="user"
    )
    claims = tokens.decode_access_token(
        tokens.create_access_token(user_id=str(user["_id"]), role="user", session_id="s1").token
    )
    sessions.revoke_all(user["_id"])

    with pytest.raises(Unauthorized) as revoked:
        sessions.load_principal(claims)

    assert revoked.value.error_code == "invalid_token"
    assert revoked.value.detail == "The access token has been revoked"


@pytest.mark.parametrize("iat", ["1700000000", True, -(10**20), -1e300])
def test_an_unusable_issued_at_is_malformed(iat: object) -> None:
    import time

    import jwt

    from shared.config import get_settings
    from shared.security import tokens

    settings = get_settings()
    now = int(time.time())
    payload = {
        "sub": "u",
        "role": "user",
        "iat": iat,
        "nbf": now - 5,
        "exp": now + 600,
        "jti": "j",
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "typ": "access",
    }
    token = jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")

    with pytest.raises(tokens.InvalidTokenError) as rejected:
        tokens.decode_access_token(token)

    assert rejected.value.reason == "malformed"
    assert str(rejected.value) == "malformed"


def test_a_key_unusable_for_hmac_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from shared.security import tokens

    public_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    token = tokens.create_access_token(user_id="u", role="user").token
    reload_settings(monkeypatch, SECRET_KEY=public_pem)

    with pytest.raises(tokens.InvalidTokenError) as rejected:
        tokens.decode_access_token(token)

    assert rejected.value.reason == "unusable_key"


def test_the_qr_code_is_the_same_compact_svg_every_time() -> None:
    """Error level M, 4 px modules, no XML declaration, no trailing newline: pinned."""
    import hashlib

    uri = (
        "otpauth://totp/Runtime%20Traitors:ann@example.com"
        "?secret=JBSWY3DPEHPK3PXP&issuer=Runtime%20Traitors"
    )
    svg = totp.qr_svg(uri)

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="196" height="196"')
    assert not svg.endswith("\n")
    digest = hashlib.sha256(svg.encode()).hexdigest()
    assert digest == "91a4cf79a3437cb59ded0531f0015ae73c111926b672d58a614930acfa8002b3"


def test_ending_a_session_denies_its_tokens_for_exactly_their_lifetime(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    """Every token of the session was issued before now, so all are dead within a lifetime."""
    from shared.repositories import users
    from shared.services import sessions

    reload_settings(monkeypatch, ACCESS_TOKEN_EXPIRE_MINUTES="15")
    user = users.insert_user(email="s@example.com", password_hash="x", full_name=None, role="user")

    sessions.end_family(user["_id"], "session-1")

    stored = users.find_by_id(user["_id"])
    assert stored is not None
    assert stored["revoked_access"] == [
        {"exp": T0 + timedelta(minutes=15, seconds=10), "sid": "session-1"}
    ]


def test_the_request_that_lost_the_insert_race_is_the_one_over_the_quota(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    real = collections.rate_limits()
    racing = _RacingCollection(real)
    monkeypatch.setattr(collections, "rate_limits", lambda: racing)

    assert reset_mail_quota.take(EMAIL, limit=1, window=timedelta(hours=1)) is False


def test_the_mail_counter_expiry_is_utc_whatever_the_machine_zone(at: list[datetime]) -> None:
    import os
    import time

    zone = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        reset_mail_quota.take(EMAIL, limit=3, window=timedelta(hours=1))
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()

    counter = collections.rate_limits().find_one({})
    assert counter is not None
    assert counter["expires_at"] == T0 + timedelta(hours=1)


def test_a_family_at_its_end_reports_no_refresh_time_left(at: list[datetime]) -> None:
    from shared.services import sessions

    user = {"_id": ObjectId(), "role": "user"}

    issued = sessions.continue_session(user, family_id="f1", family_expires_at=at[0])

    assert issued.refresh_expires_in == 0


def test_an_access_token_id_carries_128_random_bits() -> None:
    from shared.security import tokens

    claims = tokens.decode_access_token(tokens.create_access_token(user_id="u", role="user").token)

    assert len(claims.jti) == 22  # 16 bytes, base64url without padding


def test_a_refusal_reports_the_lock_of_that_email_among_others(
    monkeypatch: pytest.MonkeyPatch, at: list[datetime]
) -> None:
    login_throttle.reserve("first@example.com", max_attempts=3, window=WINDOW)
    for _ in range(3):
        reserve()
    at[0] = T0 + timedelta(minutes=5)

    assert reserve() == T0 + WINDOW


def test_a_secret_key_of_exactly_the_minimum_length_signs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.config import SettingsError
    from shared.security import tokens

    reload_settings(monkeypatch, SECRET_KEY="k" * 32)
    assert tokens.decode_access_token(tokens.create_access_token(user_id="u", role="user").token)

    reload_settings(monkeypatch, SECRET_KEY="k" * 31)
    with pytest.raises(SettingsError, match=r"at least 32 bytes .* set a long random value$"):
        tokens.create_access_token(user_id="u", role="user")
