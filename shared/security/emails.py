"""The one canonical form of an email address, used wherever addresses are stored or compared.

NFKC (full-width and compatibility characters fold to their plain forms), surrounding
space stripped, lower case, and the domain in its IDNA ASCII form: ``x@bücher.example``
and ``x@xn--bcher-kva.example`` are one mailbox, so they are one account. ASCII is the
form DNS and SMTP use, so mail to a stored address needs no further conversion.
email-validator (imported on first use) applies UTS-46 and IDNA 2008 to the domain.
"""

from __future__ import annotations

import unicodedata


class InvalidEmail(ValueError):
    """The text is not a syntactically valid email address."""


def canonical_email(value: str) -> str:
    """The canonical form of a valid address; raises InvalidEmail otherwise."""
    from email_validator import EmailNotValidError, validate_email

    folded = _fold(value)
    try:
        checked = validate_email(folded, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return f"{checked.local_part.lower()}@{checked.ascii_domain}"


def lookup_email(value: str) -> str:
    """The canonical form for a lookup: like canonical_email, but never refuses.

    An address typed at sign-in or recovery is only normalised; one that is not valid
    keeps its folded form and simply matches no account.
    """
    try:
        return canonical_email(value)
    except InvalidEmail:
        return _fold(value)


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lower()
