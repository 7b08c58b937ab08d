"""Reset mail over real HTTP and real SMTP: a few mails per address, the same answer always."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.e2e.conftest import LocalHost
from tests.smtp_sink import running_smtp_sink

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple 42"
JSON = {"Content-Type": "application/json"}


def test_twenty_forgot_requests_for_one_address_deliver_three_mails(
    start_local_host: Callable[..., LocalHost],
) -> None:
    with running_smtp_sink() as sink:
        host = start_local_host(
            {"SMTP_HOST": sink.host, "SMTP_PORT": str(sink.port), "SMTP_STARTTLS": "false"}
        )
        body = json.dumps({"email": "many@example.com", "password": PASSWORD}).encode()
        assert host.request("POST", "/api/v1/auth/register", headers=JSON, body=body).status == 201

        answers = [
            host.request(
                "POST",
                "/api/v1/auth/password/forgot",
                headers=JSON,
                body=json.dumps({"email": address}).encode(),
            )
            for address in ["many@example.com"] * 20 + ["nobody@example.com"] * 20
        ]
        sink.wait_for_message()
        time.sleep(1.0)  # let any mail beyond the quota arrive, were one to be sent

        assert {answer.status for answer in answers} == {202}
        assert (
            len(
                {
                    answer.body.replace(answer.headers["X-Request-ID"].encode(), b"")
                    for answer in answers
                }
            )
            == 1
        )
        assert [message["To"] for message in sink.messages] == ["many@example.com"] * 3
