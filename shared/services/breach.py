"""Breached-password check against the Have I Been Pwned range API (k-anonymity)."""

from __future__ import annotations

import hashlib
import logging

from shared.config import get_settings
from shared.services.external_api import ExternalApiError, get_text

logger = logging.getLogger(__name__)

PREFIX_LENGTH = 5
TIMEOUT_SECONDS = 2.0
RETRIES = 1


def breach_check_enabled() -> bool:
    """Whether PASSWORD_BREACH_CHECK asks callers to check new passwords."""
    return get_settings().PASSWORD_BREACH_CHECK


def is_password_breached(password: str) -> bool:
    """True when the password appears in a known breach; False when not, or when unknown."""
    digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:PREFIX_LENGTH], digest[PREFIX_LENGTH:]
    url = get_settings().PASSWORD_BREACH_API_URL + prefix
    try:
        # Padding makes every response about the same size, hiding which prefix was asked.
        body = get_text(
            url, timeout=TIMEOUT_SECONDS, retries=RETRIES, headers={"Add-Padding": "true"}
        )
    except (ExternalApiError, ValueError) as exc:
        # Fail open: an outage of a third-party service must not block sign-ups.
        logger.warning("Password breach check skipped: %s", exc)
        return False
    return _breach_count(body, suffix) > 0


def _breach_count(body: str, suffix: str) -> int:
    for line in body.splitlines():
        candidate, _, count = line.strip().partition(":")
        if candidate.upper() == suffix:
            # Padding entries carry count 0 and say nothing about the password.
            return int(count) if count.isdigit() else 0
    return 0
