"""TOTP second factor: setup, enable, verify at login, disable; recovery codes."""

from __future__ import annotations

from shared.db.records import AdmittedUser
from shared.errors import BadRequest, Conflict, Unauthorized
from shared.identity import Caller, Principal
from shared.repositories import users
from shared.schemas.auth import MfaRecoveryCodes, MfaSetup
from shared.security import crypto, totp
from shared.services import attempts, audit

RECOVERY_CODE_COUNT = 10


def _secret_context(user_id: object) -> str:
    # Binding the ciphertext to the user stops a secret being copied to another account.
    return f"totp:{user_id}"


def setup(principal: Principal, *, caller: Caller) -> MfaSetup:
    """Create a pending TOTP secret; it takes effect only once a code proves the app has it."""
    user = principal.user
    if user["mfa"]["enabled"]:
        raise Conflict("Two-factor authentication is already enabled", code="mfa_already_enabled")
    secret = totp.new_totp_secret()
    users.update_user(
        user["_id"],
        {"mfa.pending_secret": crypto.encrypt_secret(secret, context=_secret_context(user["_id"]))},
    )
    uri = totp.provisioning_uri(secret, account=user["email"])
    audit.record("mfa.setup_started", caller=caller, target_id=principal.user_id)
    return MfaSetup(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


def enable(principal: Principal, otp: str, *, caller: Caller) -> MfaRecoveryCodes:
    """Turn MFA on with a valid code for the pending secret; returns recovery codes once."""
    user = principal.user
    mfa_state = user["mfa"]
    if mfa_state["enabled"]:
        raise Conflict("Two-factor authentication is already enabled", code="mfa_already_enabled")
    if not mfa_state.get("pending_secret"):
        raise BadRequest("Start with /auth/mfa/setup", code="mfa_not_set_up")
    secret_enc = mfa_state["pending_secret"]
    secret = crypto.decrypt_secret(secret_enc, context=_secret_context(user["_id"]))
    step = totp.verify_totp(secret, otp, last_used_step=None)
    if step is None:
        raise BadRequest("The code is not valid; check your authenticator app", code="mfa_invalid")
    codes = totp.new_recovery_codes(RECOVERY_CODE_COUNT)
    users.update_user(
        user["_id"],
        {
            "mfa": {
                "enabled": True,
                "secret": secret_enc,
                "last_step": step,
                "recovery_codes": [totp.hash_recovery_code(code) for code in codes],
            }
        },
    )
    audit.record("mfa.enabled", caller=caller, target_id=principal.user_id)
    return MfaRecoveryCodes(recovery_codes=codes)


def disable(principal: Principal, *, password: str, otp: str, caller: Caller) -> None:
    """Turn MFA off; needs the password and a current code (or a recovery code)."""
    user = users.find_by_id(principal.user_id)
    if user is None or not user["mfa"]["enabled"]:
        raise BadRequest("Two-factor authentication is not enabled", code="mfa_not_enabled")
    with attempts.step_up(user, password, caller=caller):
        try:
            verify_second_factor(user, otp)
        except Unauthorized:
            raise BadRequest("The code is not valid", code="mfa_invalid") from None
    users.update_user(user["_id"], {"mfa": {"enabled": False}})
    audit.record("mfa.disabled", caller=caller, target_id=principal.user_id)


def verify_second_factor(user: AdmittedUser, otp: str | None) -> None:
    """Accept a fresh TOTP code or an unused recovery code; each works only once."""
    if otp is None:
        raise Unauthorized("A one-time code is required", code="mfa_required")
    mfa_state = user["mfa"]
    secret = crypto.decrypt_secret(mfa_state["secret"], context=_secret_context(user["_id"]))
    step = totp.verify_totp(secret, otp, last_used_step=mfa_state.get("last_step"))
    # Claiming the step and spending a code are atomic, so neither works twice.
    if step is not None and users.claim_totp_step(user["_id"], step):
        return
    if step is None and users.consume_recovery_code(user["_id"], totp.hash_recovery_code(otp)):
        return
    raise Unauthorized("The one-time code is not valid", code="mfa_invalid")
