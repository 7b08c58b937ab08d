"""Mail delivery against a real SMTP sink (aiosmtpd) on loopback, and the logging mailer."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from shared.services.mail import (
    LoggingMailer,
    MailDeliveryError,
    MailMessage,
    SmtpMailer,
    get_mailer,
    password_reset_message,
)
from tests.conftest import reload_settings
from tests.loopback import Certificate, free_port, self_signed_certificate

SENDER = "Runtime Traitors <no-reply@runtime-traitors.test>"
RESET_URL = "http://127.0.0.1:7071/reset-password?token=s3cr3t-reset-token"
SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-pa55word-do-not-log"


@dataclass
class Sink:
    """Messages and logins a local SMTP server received."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_sessions: list[bool] = field(default_factory=list)


class _CollectingHandler:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    async def handle_DATA(  # noqa: N802 - the hook name aiosmtpd looks up
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self._sink.messages.append(parsed)
        self._sink.recipients.append(list(envelope.rcpt_tos))
        self._sink.tls_sessions.append(session.ssl is not None)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made fresh for this run."""
    return self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))


def _check_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (SMTP_USER, SMTP_PASSWORD)
    return AuthResult(success=ok, handled=False)


StartSink = Callable[..., Sink]


@pytest.fixture
def start_sink(certificate: Certificate) -> Iterator[StartSink]:
    """Starts an aiosmtpd server on loopback: plain, STARTTLS-only, or STARTTLS with AUTH."""
    controllers: list[Controller] = []

    def start(*, starttls: bool = False, auth: bool = False) -> Sink:
        # aiosmtpd's Controller pings its own port on start, so it cannot take port 0.
        sink = Sink(port=free_port())
        options: dict[str, Any] = {}
        if starttls:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(certificate.cert_file, certificate.key_file)
            options.update(tls_context=tls, require_starttls=True)
        if auth:
            sink_logins = sink.logins

            def authenticator(*args: Any) -> AuthResult:
                result = _check_login(*args)
                if result.success:
                    sink_logins.append(SMTP_USER)
                return result

            options.update(authenticator=authenticator, auth_require_tls=True, auth_required=True)
        controller = Controller(
            _CollectingHandler(sink), hostname="127.0.0.1", port=sink.port, **options
        )
        controller.start()
        controllers.append(controller)
        return sink

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def trusting_context(certificate: Certificate) -> ssl.SSLContext:
    """A client context that trusts only the test certificate."""
    return ssl.create_default_context(cadata=certificate.cert_pem)


def _reset_mail() -> MailMessage:
    return password_reset_message(to="ada@example.com", reset_url=RESET_URL, minutes_valid=30)


def test_smtp_mailer_delivers_subject_recipient_and_body(start_sink: StartSink) -> None:
    sink = start_sink()
    mailer = SmtpMailer(host="127.0.0.1", port=sink.port, sender=SENDER, starttls=False)

    mailer.send(_reset_mail())

    [received] = sink.messages
    assert sink.recipients == [["ada@example.com"]]
    assert received["To"] == "ada@example.com"
    assert received["From"] == SENDER
    assert received["Subject"] == "Reset your Runtime Traitors password"
    assert RESET_URL in received.get_content()
    assert "30 minutes" in received.get_content()


def test_delivered_mail_carries_date_message_id_and_utf8_text(start_sink: StartSink) -> None:
    sink = start_sink()
    mailer = SmtpMailer(host="127.0.0.1", port=sink.port, sender=SENDER, starttls=False)

    mailer.send(MailMessage(to="zoe@example.com", subject="Grüße ✓", text="Schöne Grüße, Zoë ✓"))

    [received] = sink.messages
    assert received["Subject"] == "Grüße ✓"
    assert received.get_content().strip() == "Schöne Grüße, Zoë ✓"
    assert received.get_content_charset() == "utf-8"
    assert received["Date"]
    assert received["Message-ID"].endswith("@runtime-traitors.test>")


def test_smtp_mailer_upgrades_to_starttls_before_sending(
    start_sink: StartSink, trusting_context: ssl.SSLContext
) -> None:
    sink = start_sink(starttls=True)
    mailer = SmtpMailer(
        host="127.0.0.1", port=sink.port, sender=SENDER, ssl_context=trusting_context
    )

    mailer.send(_reset_mail())

    assert [m["Subject"] for m in sink.messages] == ["Reset your Runtime Traitors password"]
    assert sink.tls_sessions == [True]


def test_smtp_mailer_rejects_a_certificate_it_does_not_trust(start_sink: StartSink) -> None:
    sink = start_sink(starttls=True)
    mailer = SmtpMailer(host="127.0.0.1", port=sink.port, sender=SENDER)

    with pytest.raises(MailDeliveryError):
        mailer.send(_reset_mail())

    assert sink.messages == []


def test_smtp_mailer_logs_in_with_the_configured_account(
    start_sink: StartSink, trusting_context: ssl.SSLContext
) -> None:
    sink = start_sink(starttls=True, auth=True)
    mailer = SmtpMailer(
        host="127.0.0.1",
        port=sink.port,
        sender=SENDER,
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        ssl_context=trusting_context,
    )

    mailer.send(_reset_mail())

    assert sink.logins == [SMTP_USER]
    assert len(sink.messages) == 1


def test_wrong_smtp_password_fails_without_revealing_it(
    start_sink: StartSink, trusting_context: ssl.SSLContext
) -> None:
    sink = start_sink(starttls=True, auth=True)
    wrong_password = "wrong-pa55word-do-not-log"
    mailer = SmtpMailer(
        host="127.0.0.1",
        port=sink.port,
        sender=SENDER,
        username=SMTP_USER,
        password=wrong_password,
        ssl_context=trusting_context,
    )

    with pytest.raises(MailDeliveryError) as failure:
        mailer.send(_reset_mail())

    assert wrong_password not in str(failure.value)
    assert sink.messages == []


def test_credentials_without_starttls_are_refused() -> None:
    with pytest.raises(ValueError, match="SMTP_STARTTLS"):
        SmtpMailer(
            host="127.0.0.1",
            port=25,
            sender=SENDER,
            username=SMTP_USER,
            password=SMTP_PASSWORD,
            starttls=False,
        )


def test_refused_connection_raises_mail_delivery_error() -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=free_port(), sender=SENDER, timeout=2)

    with pytest.raises(MailDeliveryError, match=r"127\.0\.0\.1"):
        mailer.send(_reset_mail())


def test_get_mailer_delivers_through_the_configured_smtp_host(
    start_sink: StartSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = start_sink()
    reload_settings(
        monkeypatch,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink.port),
        SMTP_STARTTLS="false",
        SMTP_FROM=SENDER,
    )

    get_mailer().send(_reset_mail())

    assert [m["From"] for m in sink.messages] == [SENDER]
    assert get_mailer() is get_mailer()


def test_development_without_smtp_host_logs_the_whole_mail(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reload_settings(monkeypatch, ENVIRONMENT="development", SMTP_HOST="")

    with caplog.at_level(logging.INFO, logger="shared.services.mail"):
        get_mailer().send(_reset_mail())

    assert "ada@example.com" in caplog.text
    assert "Reset your Runtime Traitors password" in caplog.text
    assert RESET_URL in caplog.text


def test_outside_development_the_logged_mail_withholds_its_body(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reload_settings(
        monkeypatch, ENVIRONMENT="staging", SMTP_HOST="", DATABASE_URL="mongodb://127.0.0.1:9/"
    )

    with caplog.at_level(logging.INFO, logger="shared.services.mail"):
        mailer = get_mailer()
        mailer.send(_reset_mail())

    assert isinstance(mailer, LoggingMailer)
    assert "Reset your Runtime Traitors password" in caplog.text
    assert "body withheld" in caplog.text
    assert "s3cr3t-reset-token" not in caplog.text


def test_mailer_is_rebuilt_when_settings_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reload_settings(monkeypatch, SMTP_HOST="")
    first = get_mailer()

    reload_settings(monkeypatch, SMTP_HOST="127.0.0.1", SMTP_STARTTLS="false")

    assert isinstance(first, LoggingMailer)
    assert isinstance(get_mailer(), SmtpMailer)


def test_password_reset_message_explains_link_and_expiry() -> None:
    message = password_reset_message(to="ada@example.com", reset_url=RESET_URL, minutes_valid=30)

    assert message.to == "ada@example.com"
    assert f"\n{RESET_URL}\n" in message.text
    assert "expires in 30 minutes" in message.text
    assert "ignore" in message.text
