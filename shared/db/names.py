"""Collection names and the document type: the bottom of the database layer.

Nothing here imports the client, so migrations (run by the client on first connect)
and the collection accessors can both use the names without an import circle.
"""

from typing import Any

Document = dict[str, Any]

MIGRATIONS = "migrations"
RATE_LIMITS = "rate_limits"
USERS = "users"
REFRESH_TOKENS = "refresh_tokens"
PASSWORD_RESETS = "password_resets"  # noqa: S105 - a collection name
LOGIN_THROTTLE = "login_throttle"
AUDIT_LOG = "audit_log"
UPLOADS = "uploads"
LOCKS = "locks"
COUNTERS = "counters"
