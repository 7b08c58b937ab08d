"""TOTP codes (window, replay), the offline QR code, and recovery codes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from shared import clock
from shared.security.totp import (
    hash_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    normalize_recovery_code,
    provisioning_uri,
    qr_svg,
    verify_totp,
)
from tests.conftest import reload_settings
from tests.unit.conftest import OTHER_DATA_ENCRYPTION_KEY

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# Mid-step, so ±30 s lands in the neighbouring steps and nowhere else.
NOW = datetime(2030, 5, 17, 12, 0, 15, tzinfo=UTC)
SVG_NS = "{http://www.w3.org/2000/svg}"

pytestmark = pytest.mark.usefixtures("security_env")


def _code_at(moment: datetime) -> str:
    return pyotp.TOTP(SECRET).at(moment)


def _step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // 30


@pytest.mark.parametrize("offset_seconds", [-30, 0, 30])
def test_code_from_current_or_adjacent_step_is_accepted(offset_seconds: int) -> None:
    moment = NOW + timedelta(seconds=offset_seconds)
    step = verify_totp(SECRET, _code_at(moment), last_used_step=None, at=NOW)
    assert step == _step_of(moment)


@pytest.mark.parametrize("offset_seconds", [-90, -60, 60, 90])
def test_code_outside_the_window_is_rejected(offset_seconds: int) -> None:
    moment = NOW + timedelta(seconds=offset_seconds)
    assert verify_totp(SECRET, _code_at(moment), last_used_step=None, at=NOW) is None


def test_code_from_the_real_clock_is_accepted() -> None:
    assert verify_totp(SECRET, pyotp.TOTP(SECRET).now(), last_used_step=None) is not None


def test_window_follows_the_shared_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    assert verify_totp(SECRET, _code_at(NOW), last_used_step=None) == _step_of(NOW)


def test_replaying_a_used_code_is_rejected() -> None:
    code = _code_at(NOW)
    used_step = verify_totp(SECRET, code, last_used_step=None, at=NOW)
    assert used_step is not None
    assert verify_totp(SECRET, code, last_used_step=used_step, at=NOW) is None
    later = NOW + timedelta(seconds=20)
    assert verify_totp(SECRET, code, last_used_step=used_step, at=later) is None


def test_older_code_is_rejected_once_a_newer_step_was_used() -> None:
    used_step = verify_totp(SECRET, _code_at(NOW), last_used_step=None, at=NOW)
    previous = _code_at(NOW - timedelta(seconds=30))
    assert verify_totp(SECRET, previous, last_used_step=used_step, at=NOW) is None


def test_next_code_is_accepted_after_the_current_one_was_used() -> None:
    used_step = verify_totp(SECRET, _code_at(NOW), last_used_step=None, at=NOW)
    following = NOW + timedelta(seconds=30)
    assert verify_totp(SECRET, _code_at(following), last_used_step=used_step, at=following) == (
        _step_of(following)
    )


def test_code_typed_with_spaces_is_accepted() -> None:
    code = _code_at(NOW)
    assert verify_totp(SECRET, f" {code[:3]} {code[3:]} ", last_used_step=None, at=NOW)


def test_wrong_code_is_rejected() -> None:
    window = {_code_at(NOW + timedelta(seconds=s)) for s in (-30, 0, 30)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in window)
    assert verify_totp(SECRET, wrong, last_used_step=None, at=NOW) is None


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        "١٢٣٤٥٦",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "-12345",
        "12.345",
        "٣" * 6,
    ],
)
def test_input_that_is_not_six_ascii_digits_is_rejected_quietly(code: str) -> None:
    assert verify_totp(SECRET, code, last_used_step=None, at=NOW) is None


def test_new_secret_is_random_base32_usable_by_pyotp() -> None:
    secrets = {new_totp_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        code = pyotp.TOTP(secret).at(NOW)
        assert verify_totp(secret, code, last_used_step=None, at=NOW) == _step_of(NOW)


def test_provisioning_uri_names_the_issuer_account_and_secret() -> None:
    uri = provisioning_uri(SECRET, account="maria@example.com")
    parsed = urlparse(uri)
    query = parse_qs(parsed.query)
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Runtime Traitors"]
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    assert totp.name == "maria@example.com"
    assert totp.issuer == "Runtime Traitors"


def test_qr_code_is_a_self_contained_svg() -> None:
    svg = qr_svg(provisioning_uri(SECRET, account="maria@example.com"))
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    assert root.tag == f"{SVG_NS}svg"
    assert len(list(root.iter(f"{SVG_NS}path"))) >= 1
    for element in root.iter():
        assert element.tag.removeprefix(SVG_NS) not in {"image", "script", "foreignObject", "a"}
        for attribute in element.attrib:
            assert "href" not in attribute
            assert attribute.lower() not in {"src", "style"}
    without_namespace = svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for network_marker in ("http:", "https:", "//", "url(", "@import"):
        assert network_marker not in without_namespace


def test_qr_codes_differ_for_different_secrets() -> None:
    first = qr_svg(provisioning_uri(SECRET, account="maria@example.com"))
    second = qr_svg(provisioning_uri(new_totp_secret(), account="maria@example.com"))
    assert first != second


def test_recovery_codes_are_ten_distinct_readable_codes_of_50_bits() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    for code in codes:
        assert re.fullmatch(rf"[{alphabet}]{{5}}-[{alphabet}]{{5}}", code)
    assert len(alphabet) ** 10 >= 2**50
    assert len(new_recovery_codes(3)) == 3


@pytest.mark.parametrize(
    "typed", ["7k2qd-9mx0a", "7K2QD-9MX0A", " 7k2qd 9mx0a ", "7k2qd9mx0a", "7K2QD-9MXOA"]
)
def test_recovery_code_typed_loosely_normalises_to_the_issued_form(typed: str) -> None:
    assert normalize_recovery_code(typed) == "7k2qd-9mx0a"
    assert hash_recovery_code(typed) == hash_recovery_code("7k2qd-9mx0a")


def test_recovery_code_lookalike_letters_read_as_digits() -> None:
    assert normalize_recovery_code("abcdl-ioxyz") == "abcd1-10xyz"


def test_garbage_recovery_code_does_not_normalise_to_a_valid_code() -> None:
    assert not re.fullmatch(r".{5}-.{5}", normalize_recovery_code("not a code at all"))
    assert normalize_recovery_code("7k2qd-9mx0") != "7k2qd-9mx0a"


def test_recovery_code_hashes_are_keyed_and_hide_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = new_recovery_codes(1)[0]
    stored = hash_recovery_code(code)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert code.replace("-", "") not in stored
    assert stored != hash_recovery_code(new_recovery_codes(1)[0])
    reload_settings(monkeypatch, DATA_ENCRYPTION_KEY=OTHER_DATA_ENCRYPTION_KEY)
    assert hash_recovery_code(code) != stored
