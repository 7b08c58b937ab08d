"""The development-only upload page: what it is allowed to load, and where it exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from devhost.azurite import azurite_connection_string
from tests.api.client import ApiClient
from tests.conftest import reload_settings

ROOT = Path(__file__).resolve().parents[2]
PAGE = "/api/demo/uploads"
LIST_FUNCTIONS = (
    "import json, function_app; "
    "print(json.dumps([f.get_function_name() for f in function_app.app.get_functions()]))"
)


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, handlers and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.script_sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            source = dict(attrs).get("src")
            if source:
                self.script_sources.append(source)
            else:
                self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")
        self.inline += [f"{tag} {name}=" for name in names if name == "style" or name[:2] == "on"]


def csp_directives(policy: str) -> dict[str, str]:
    """``{"img-src": "http://...", ...}`` from a Content-Security-Policy value."""
    pairs = (directive.strip().partition(" ") for directive in policy.split(";"))
    return {name: value for name, _, value in pairs if name}


def test_page_runs_only_its_own_script_and_reaches_only_the_api_and_blob_endpoint(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, AZURE_STORAGE_CONNECTION_STRING=azurite_connection_string(12345))
    response = client.get(PAGE)
    assert response.status == 200
    assert response.content_type == "text/html; charset=utf-8"
    policy = csp_directives(response.headers["content-security-policy"])
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self' http://127.0.0.1:12345"
    assert policy["img-src"] == "http://127.0.0.1:12345"
    assert policy["form-action"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    finder = InlineCodeFinder()
    finder.feed(response.body.decode())
    assert finder.inline == []
    assert finder.script_sources == ["uploads.js"]


@pytest.mark.parametrize(
    ("settings", "origin"),
    [
        (
            {"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"},
            "http://127.0.0.1:10000",
        ),
        (
            {
                "AZURE_STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net",
                "AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(12345),
            },
            "https://acct.blob.core.windows.net",
        ),
        (
            {
                "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;"
                "AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"
            },
            "https://acct.blob.core.windows.net",
        ),
    ],
)
def test_page_admits_the_blob_endpoint_the_upload_urls_point_at(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], origin: str
) -> None:
    reload_settings(monkeypatch, **settings)
    policy = csp_directives(client.get(PAGE).headers["content-security-policy"])
    assert policy["connect-src"] == f"'self' {origin}"
    assert policy["img-src"] == origin


def test_page_without_storage_may_call_only_the_api(client: ApiClient) -> None:
    policy = csp_directives(client.get(PAGE).headers["content-security-policy"])
    assert policy["connect-src"] == "'self'"
    assert policy["img-src"] == "'none'"


@pytest.mark.parametrize(
    ("path", "content_type", "sample"),
    [
        ("/api/demo/uploads.js", "text/javascript; charset=utf-8", "XMLHttpRequest"),
        ("/api/demo/uploads.css", "text/css; charset=utf-8", "progress"),
    ],
)
def test_script_and_stylesheet_are_served_with_their_types(
    client: ApiClient, path: str, content_type: str, sample: str
) -> None:
    response = client.get(path)
    assert response.status == 200
    assert response.content_type == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert sample in response.body.decode()


def test_script_never_writes_html_or_stores_the_token() -> None:
    script = (ROOT / "shared" / "services" / "demo_assets" / "uploads.js").read_text()
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "localStorage", "cookie"):
        assert forbidden not in script


@pytest.mark.parametrize(
    ("environment", "has_demo"),
    [(None, False), ("", False), ("development", True), ("staging", False), ("production", False)],
)
def test_demo_routes_exist_only_when_development_is_set(
    environment: str | None, has_demo: bool
) -> None:
    # An app setting forgotten on Azure (ENVIRONMENT unset) must not expose the demo.
    env = {name: value for name, value in os.environ.items() if name != "ENVIRONMENT"}
    if environment is not None:
        env["ENVIRONMENT"] = environment
    if environment != "development":  # deployed environments refuse development values
        env.update(
            SECRET_KEY="s" * 40 + "-signing",
            DATA_ENCRYPTION_KEY="d" * 40 + "-encryption",
            DATABASE_URL="mongodb://db.example.net/",
            DEBUG="false",
        )
    listed = subprocess.run(
        [sys.executable, "-c", LIST_FUNCTIONS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    names = json.loads(listed.stdout)
    assert "uploads" in names
    assert ("demo_uploads" in names) is has_demo
    assert any(name.startswith("demo_") for name in names) is has_demo
