"""Write docs/api-reference.md from the OpenAPI document (run by `make docs`).

A test regenerates the text and fails when the committed file is stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUTPUT = ROOT / "docs" / "api-reference.md"

HEADER = """# API reference

Generated from the OpenAPI document by `scripts/generate_api_reference.py` (`make docs`);
do not edit by hand. The contract it implements is `../shared/API.md`; decisions where
that contract is silent are listed at the end.
"""

DECISIONS = """
## Decisions where API.md is silent

- Error `code`s beyond those API.md names: `invalid_json` (400), `unsupported_media_type`
  (415), `payload_too_large` (413), `validation_error` (422), `weak_password` (in `errors`),
  `rate_limited` and `login_locked` (429), `invalid_token` (401 for access/refresh tokens),
  `https_required` (403), `last_admin` (409: the last active admin cannot be demoted,
  deactivated or deleted), `mfa_already_enabled` (409), `mfa_not_set_up` and
  `mfa_not_enabled` (400), `service_unavailable` (503).
- The login throttle counts failures per email address whether or not an account exists,
  so a 429 reveals nothing about who has an account. Sign-in and the step-up checks
  (`current_password`, `password`, MFA disable) share that one count per address, and each
  attempt is reserved before the secret is checked, so a burst of concurrent guesses gets
  at most `LOGIN_MAX_FAILURES` answers other than 429 `login_locked`.
- Changing one's password ends every other session immediately; the caller's own access
  token also stops working, but its refresh token stays valid so the client can refresh.
- `POST /api/v1/auth/password/forgot` answers `{"detail": ...}` with 202 before it looks
  the address up: the lookup, the per-address quota (`PASSWORD_RESET_MAILS_PER_HOUR`) and
  the mail run on a background thread, so every address gets the same answer after the
  same work. A reset link is bound to the password it was mailed for.
- Emails are stored with the domain in its IDNA ASCII (punycode) form: registering
  `x@bücher.example` answers `"email": "x@xn--bcher-kva.example"`.
- A query filter naming a record (`actor_id`, `owner_id`) must be 24 hexadecimal digits,
  else 422; a time filter (`since`) must stay within years 1..9999 once converted to UTC.
- Every admin call is audited as `admin.<operation id>`.
- What of an image's metadata is served: only what changes how the pixels look. The
  served file is the uploaded one, byte for byte, minus its metadata: a JPEG keeps its
  JFIF header, ICC profile and Adobe colour marker; a PNG keeps PLTE, tRNS, gAMA, cHRM,
  sRGB, iCCP, sBIT, cICP, mDCV, cLLI, bKGD and pHYs; a WebP keeps its ICC profile and
  alpha; a GIF keeps its colour tables and the first frame's graphic control
  (transparency). Everything else goes: EXIF (camera, GPS, dates), XMP, IPTC, comments,
  text chunks, time stamps, application data and unknown chunks. One exception: when a
  JPEG's or PNG's EXIF (or XMP) orientation asks for a turn or flip (values 2-8), the copy
  gets a new EXIF holding only that Orientation tag, and the pixels stay as stored.
  Browsers honour it in JPEGs, and Chromium and Safari in PNGs (the `eXIf` chunk), as does
  Pillow's `exif_transpose`. A WebP to turn is decoded, turned and saved again (WebP
  quality 90, no EXIF), since browsers ignore a WebP's EXIF orientation. `metadata`
  `width` and `height` are as displayed, and the thumbnail is always upright. Animated
  GIFs, APNGs and animated WebPs are served as their first frame (an APNG as its still
  default image); an animated WebP's frame is decoded and saved again, as it cannot be
  cut out of the animation losslessly.
- An image is `rejected` with `too_large`, before any pixel is decoded, when its width x
  height is over its format's pixel cap, which keeps processing within its memory budget:
  JPEG and PNG 40,000,000 pixels, GIF 27,900,000, WebP 1,700,000, and a WebP that must
  be decoded and saved again (its EXIF asks for a turn, or it is animated) 800,000.
  Two shapes are `too_large` under those caps too, as their decode cannot fit the budget:
  a picture so wide and short that a thumbnail band of whole rows exceeds about 7 MiB
  decoded, and a 16-bit-per-channel colour PNG over 16 MiB decoded.
- The maintenance job recounts the `GET /api/v1/admin/stats` totals from the collections
  on each run and corrects any drift (audited as `counters.corrected`, with the
  differences in `details.drift`).
- Path ids are 24-hex-digit strings; anything else is a 404 before any code runs.
- A 204 (and every other answer without a body) carries no `Content-Type`.
- `errors` in a problem is absent, never null, unless the request failed validation (422,
  and `weak_password`); each entry is `{"loc", "msg", "type"}`.
- Optional request fields may be left out; `null` is accepted for them too, but only the
  name in `PATCH /api/v1/users/me` and `PATCH /api/v1/users/{user_id}` gives it a meaning:
  `"full_name": null` removes the name, while leaving the field out keeps it.
- Every response field is always sent; one without a value is `null`.
- The OpenAPI document's `servers` is the origin it was fetched from (`X-Forwarded-Host` or
  `Host`; `https` in production): paths carry the `/api` prefix, so that origin is the base
  URL a generated client needs. Built from the code alone (this file), it is the template
  `{scheme}://{host}`, by default the local host.

## For client developers

Tried at their default settings against this document: openapi-typescript 7.13 with
openapi-fetch 0.17 (`tsc --strict`, TypeScript 5.9; openapi-typescript needs TypeScript 5,
not 7) and openapi-python-client 0.29. `tests/e2e/test_generated_clients.py` runs the whole
flow with both. What is left to you:

- The base URL: openapi-fetch's `createClient({ baseUrl })` and openapi-python-client's
  `Client(base_url=...)` both need it; take `servers[0].url` of the document you generated
  from, or your deployment's origin (no trailing `/api`: the paths include it).
- The token: send `Authorization: Bearer <access_token>` (openapi-fetch: a `headers` option
  or a middleware; openapi-python-client: `AuthenticatedClient(token=...)`), refresh it
  with `POST /api/v1/auth/refresh` before `expires_in` runs out, and keep the new refresh token.
- Errors: openapi-fetch returns the problem as `error`; openapi-python-client returns it as
  the parsed value (`Problem`) of any declared error status, so check `isinstance`.
- The upload itself is a `PUT` of the file to `upload.url` with every header in
  `upload.headers`: that call goes to Blob Storage, not to this API, so no generated
  client makes it.
- @hey-api/openapi-ts (tried by hand, 0.95; 0.99 needs Node 22.18+) takes `servers[0]` as
  its default base URL, so a client generated from a deployment's document needs none set;
  for a 204 its fetch client returns `data: null` (the empty body) where the type says
  `void`: test `response.ok` or `error`, not `data`.
"""

UPLOAD_URLS = """
## What an upload URL lets a client do

`upload.url` (from `POST /api/v1/uploads`, and from the owner's `GET` while the upload is
pending) is a SAS for exactly one blob, `uploads/{owner_id}/{upload_id}`, with the
*create* permission only (`sp=c`; HTTPS only in production). Until `upload.expires_at`
(at most `UPLOAD_URL_TTL_SECONDS` ahead, and never past the upload's pending window of
`UPLOAD_PENDING_HOURS` from its creation) it lets a client:

- create that blob once: one `PUT` (Put Blob) with `upload.headers`, or the official
  SDKs' block upload (Put Block, then Put Block List: allowed to create from service
  version 2026-04-06 on; the URL is signed with `sv=2026-10-06`);
- take a snapshot of it (`PUT <url>&comp=snapshot`).

It cannot read, list, overwrite, delete or tag anything, nor touch any other blob.
Nothing it creates outlives processing: the blob and every snapshot of it are deleted
once the upload is `ready` (the served file is a new blob in another container) or are
moved to quarantine when it is `rejected`; metadata sent with the upload is never served.
Blocks staged but never committed are discarded by Blob Storage (after a week). A blob
created again through a still-valid URL after processing is quarantined as
`unknown_upload`, on its owner's quota. Bytes put through a still-valid URL after the
owner deleted their account have no one to be held for: processing deletes them at
once, with their snapshots, and leaves an `upload.discarded` audit event with the
reason (`owner_deleted`), the size and the owner's id.

Quota (`UPLOAD_QUOTA_BYTES`): a pending upload counts its declared size while its
pending window is open; once processed, what is really stored counts — the served file
and thumbnail of a `ready` upload, and every byte kept in quarantine for a `rejected`
one (kept `QUARANTINE_RETENTION_DAYS`, then purged) — until the upload is deleted.

When the official SDKs switch from one Put Blob to blocks: `azure-storage-blob` (Python,
12.31) `upload_blob` above `max_single_put_size` (default 64 MiB; blocks of
`max_block_size`, default 4 MiB); `@azure/storage-blob` (JavaScript, 12.34)
`uploadData` / `uploadFile` / `uploadBrowserData` above `maxSingleShotSize` (default
256 MiB), and `uploadStream` always (8 MiB blocks). Both work with the create-only URL.
A browser front end needs its origin in the storage account's CORS rules (locally:
`CORS_ORIGINS`).
"""


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return "-"
    ref = schema.get("$ref", "")
    return f"`{ref.rsplit('/', 1)[-1]}`" if ref else f"`{schema.get('type', 'object')}`"


def render(document: dict[str, Any]) -> str:
    """The Markdown text for an OpenAPI document."""
    lines = [HEADER, f"API version {document['info']['version']}, OpenAPI {document['openapi']}.\n"]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            by_tag.setdefault(operation["tags"][0], []).append((method.upper(), path, operation))
    for tag, operations in by_tag.items():
        lines.append(f"## {tag.capitalize()}\n")
        lines.append("| method | path | who | request | success | errors |")
        lines.append("|---|---|---|---|---|---|")
        for method, path, op in operations:
            who = op.get("x-required-role", "anyone")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ok = [s for s in op["responses"] if s.startswith("2")]
            ok_content: dict[str, Any] = op["responses"][ok[0]].get("content", {})
            first_content: dict[str, Any] = next(iter(ok_content.values()), {})
            ok_schema = first_content.get("schema")
            errors = ", ".join(s for s in op["responses"] if not s.startswith("2"))
            success = f"{ok[0]} {_schema_name(ok_schema)}" if ok_schema else ok[0]
            lines.append(
                f"| {method} | `{path}` | {who} | {_schema_name(body.get('schema'))} "
                f"| {success} | {errors} |"
            )
        lines.append("")
        for method, path, op in operations:
            lines.append(f"### {method} {path}\n\n{op['summary']}.")
            if op.get("description"):
                lines.append(f"\n{op['description']}")
            params = [p for p in op.get("parameters", []) if p["in"] == "query"]
            if params:
                lines.append("\nQuery: " + ", ".join(f"`{p['name']}`" for p in params) + ".")
            lines.append("")
    lines.append(UPLOAD_URLS.strip() + "\n")
    lines.append(DECISIONS.strip() + "\n")
    return "\n".join(lines)


def current_text() -> str:
    """The reference as the code defines it now."""
    import function_app  # noqa: F401 - registers every operation
    from shared.http.openapi import openapi_document

    return render(openapi_document("1.0.0"))


def main() -> int:
    # Rendering touches no service, but importing the app refuses an unset environment.
    os.environ.setdefault("ENVIRONMENT", "development")
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(current_text(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
