"""Password hashing (bcrypt over a peppered HMAC pre-hash) and the password policy."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import bcrypt
import pytest

from shared.config import get_settings
from shared.security.passwords import (
    WeakPasswordError,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_dummy_password,
    verify_password,
)
from tests.conftest import reload_settings
from tests.unit.conftest import OTHER_DATA_ENCRYPTION_KEY

EMAIL = "maria.lopez@example.com"
FULL_NAME = "Maximilian Oberhauser"
STRONG = (
    "lantern 🦊 orbits 🌋 quietly 🎻 marbles 🐙 saffron 🚲 glacier 🍋 thimble 🦔 velvet harbour"
)
PASSPHRASE = "violet tractor humming under seaweed"

pytestmark = pytest.mark.usefixtures("security_env")


def test_long_emoji_passphrase_hashes_and_verifies() -> None:
    assert len(STRONG.encode("utf-8")) > 72
    hashed = hash_password(STRONG)
    assert verify_password(STRONG, hashed)


def test_every_character_counts_beyond_bcrypts_72_bytes() -> None:
    prefix = STRONG.encode("utf-8")[:72].decode("utf-8")
    hashed = hash_password(STRONG)
    assert not verify_password(prefix, hashed)
    assert not verify_password(STRONG[:-1] + "s", hashed)
    assert not verify_password(STRONG + "!", hashed)


def test_stored_hash_carries_a_scheme_marker_and_not_the_password() -> None:
    hashed = hash_password(PASSPHRASE)
    assert hashed.startswith("$hmac-bcrypt$v=1$2b$04$")
    assert "violet" not in hashed


def test_same_password_hashes_differently_each_time() -> None:
    first, second = hash_password(PASSPHRASE), hash_password(PASSPHRASE)
    assert first != second
    assert verify_password(PASSPHRASE, first)
    assert verify_password(PASSPHRASE, second)


def test_password_typed_in_another_unicode_form_still_verifies() -> None:
    composed = "Café crème brûlée résumé"
    hashed = hash_password(unicodedata.normalize("NFC", composed))
    assert verify_password(unicodedata.normalize("NFD", composed), hashed)
    full_width = "\uff21\uff22\uff23 tractor humming seaweed"  # full-width ABC
    assert verify_password("ABC tractor humming seaweed", hash_password(full_width))


def test_wrong_password_does_not_verify() -> None:
    assert not verify_password("violet tractor humming under seaweeds", hash_password(PASSPHRASE))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$hmac-bcrypt$v=1$2b$04$truncated",
        "$hmac-bcrypt$v=9$2b$04$" + "a" * 53,
        bcrypt.hashpw(PASSPHRASE.encode(), bcrypt.gensalt(4)).decode(),
        "$hmac-bcrypt$v=1$2b$99$" + "a" * 53,  # well-formed, but bcrypt refuses it
    ],
    # Fixed ids: a fresh salt in the id would name a new test at every collection, which
    # breaks `mutmut run <mutant>` (it looks the collected ids up in its stats).
    ids=["empty", "not-a-hash", "truncated", "unknown-version", "bare-bcrypt", "bad-cost"],
)
def test_unusable_stored_hash_fails_verification_without_error(stored: str) -> None:
    assert not verify_password(PASSPHRASE, stored)
    assert needs_rehash(stored)


def test_hash_needs_rehash_after_bcrypt_rounds_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_hash = hash_password(PASSPHRASE)
    assert not needs_rehash(old_hash)
    reload_settings(monkeypatch, BCRYPT_ROUNDS="5")
    assert needs_rehash(old_hash)
    assert verify_password(PASSPHRASE, old_hash)
    new_hash = hash_password(PASSPHRASE)
    assert new_hash.startswith("$hmac-bcrypt$v=1$2b$05$")
    assert not needs_rehash(new_hash)


def test_hashes_depend_on_the_data_encryption_key_pepper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed = hash_password(PASSPHRASE)
    reload_settings(monkeypatch, DATA_ENCRYPTION_KEY=OTHER_DATA_ENCRYPTION_KEY)
    assert not verify_password(PASSPHRASE, hashed)


def _record_bcrypt_costs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    costs: list[int] = []
    real_checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw

    def recording_checkpw(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", recording_checkpw)
    return costs


def test_dummy_verification_runs_bcrypt_at_the_current_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    costs = _record_bcrypt_costs(monkeypatch)
    verify_dummy_password("whatever someone typed")
    reload_settings(monkeypatch, BCRYPT_ROUNDS="5")
    verify_dummy_password("whatever someone typed")
    assert costs == [4, 5]
    assert get_settings().BCRYPT_ROUNDS == 5


@pytest.mark.parametrize(
    ("password", "words_in_message"),
    [
        ("password1234", "common password"),
        ("qwertyuiopasdf", "commonly used password"),
        ("aaaaaaaaaaaaaaa", "Repeats"),
        ("abcdefghijklmnop", "Sequences"),
    ],
)
def test_guessable_password_is_rejected_with_a_readable_reason(
    password: str, words_in_message: str
) -> None:
    with pytest.raises(WeakPasswordError) as raised:
        check_password_policy(password, email=EMAIL, full_name=None)
    message = str(raised.value)
    assert words_in_message in message
    assert message.endswith(".")
    assert "{" not in message
    assert "[" not in message


def test_password_containing_email_local_part_is_rejected() -> None:
    with pytest.raises(WeakPasswordError, match=r"^Password must not contain your email name$"):
        check_password_policy("Winter-MARIA.LOPEZ-lantern-91", email=EMAIL, full_name=None)


def test_password_containing_local_part_before_plus_tag_is_rejected() -> None:
    with pytest.raises(WeakPasswordError, match="email name"):
        check_password_policy(
            "velvet quokkas harbour 42", email="quokkas+shop@example.com", full_name=None
        )


def test_the_name_before_the_first_of_several_plus_tags_is_the_email_name() -> None:
    with pytest.raises(WeakPasswordError, match=r"^Password must not contain your email name$"):
        check_password_policy(
            "velvet quokkas harbour 42", email="quokkas+shop+2026@example.com", full_name=None
        )


def test_a_three_character_email_name_counts() -> None:
    with pytest.raises(WeakPasswordError, match=r"^Password must not contain your email name$"):
        check_password_policy(
            "velvet zyq harbour lantern 42", email="zyq@example.com", full_name=None
        )


def test_a_password_joining_the_words_of_the_email_name_is_guessable() -> None:
    check_password_policy("kwzrtyxplombique", email=EMAIL, full_name=None)
    with pytest.raises(WeakPasswordError):
        check_password_policy(
            "kwzrtyxplombique", email="kwzrtyx.plombique@example.com", full_name=None
        )


def test_password_built_from_the_users_name_is_rejected() -> None:
    check_password_policy("Oberhauser1234", email=EMAIL, full_name=None)
    with pytest.raises(WeakPasswordError):
        check_password_policy("Oberhauser1234", email=EMAIL, full_name=FULL_NAME)


def test_eleven_characters_are_too_short() -> None:
    with pytest.raises(WeakPasswordError, match=r"^Password must be at least 12 characters$"):
        check_password_policy("vT7#qm2!Lp9", email=EMAIL, full_name=None)


def test_129_characters_are_too_long() -> None:
    too_long = (PASSPHRASE + " ") * 3 + "x" * (129 - 3 * (len(PASSPHRASE) + 1))
    assert len(too_long) == 129
    with pytest.raises(WeakPasswordError, match=r"^Password must be at most 128 characters$"):
        check_password_policy(too_long, email=EMAIL, full_name=None)


def test_length_limits_count_characters_not_bytes() -> None:
    twelve_emoji = "🦊🌋🎻🐙🚲🍋🛰🦔🍄🧲🪁🎲"
    check_password_policy(twelve_emoji, email=EMAIL, full_name=None)
    hundred_twenty_eight_emoji = twelve_emoji * 10 + twelve_emoji[:8]
    assert len(hundred_twenty_eight_emoji) == 128
    check_password_policy(hundred_twenty_eight_emoji, email=EMAIL, full_name=None)


@pytest.mark.parametrize(
    "password",
    [
        PASSPHRASE,
        STRONG,
        "tK8#mQz!v2Lp",
        "Ünïcødé-pässwörd-ñandú",
        # l33t-heavy input at the maximum length: the slow case for zxcvbn.
        ("4@8({[<3691!|7+%$2" * 8)[:128],
    ],
)
def test_strong_passwords_are_accepted(password: str) -> None:
    check_password_policy(password, email=EMAIL, full_name=FULL_NAME)
