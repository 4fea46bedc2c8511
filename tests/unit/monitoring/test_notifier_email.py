"""EmailNotifier against a minimal SMTP server on 127.0.0.1 (socketserver, in a thread)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts import AlertEvaluator, AlertEvent
from conveyor.monitoring.alerts.notify import EmailNotifier, RetryPolicy

SENDER, RECIPIENTS = "conveyor@example.test", ["ops@example.test", "ml@example.test"]


class SmtpServer(socketserver.ThreadingTCPServer):
    """Speaks enough SMTP (RFC 5321) for smtplib: EHLO/HELO, STARTTLS, AUTH PLAIN, MAIL, RCPT,
    DATA, RSET, NOOP, QUIT. ``mail_replies`` answers MAIL FROM in turn (then 250)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.tls = tls
        self.credentials = ("alerts", "pa55")
        self.mail_replies: list[str] = []
        self.refused = {"nobody@example.test"}
        self.messages: list[tuple[str, list[str], bytes, bool]] = []

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.is_tls, self.sender = False, ""
        self.rcpts: list[str] = []
        self.reply("220 127.0.0.1 ESMTP test")
        while line := self.rfile.readline():
            command, _, arg = line.decode().rstrip("\r\n").partition(" ")
            if not self.dispatch(command.upper(), arg):
                return

    def dispatch(self, command: str, arg: str) -> bool:
        if command in ("EHLO", "HELO"):
            extensions = ["AUTH PLAIN"] + (["STARTTLS"] if self.server.tls else [])
            lines = ["127.0.0.1", *extensions] if command == "EHLO" else ["127.0.0.1"]
            for extension in lines[:-1]:
                self.reply(f"250-{extension}")
            self.reply(f"250 {lines[-1]}")
        elif command == "STARTTLS" and self.server.tls:
            self.reply("220 ready to start TLS")
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
            self.rfile, self.wfile = self.request.makefile("rb"), self.request.makefile("wb")
            self.is_tls = True
        elif command == "AUTH":
            _, _, token = arg.partition(" ")
            _, user, password = base64.b64decode(token).decode().split("\0")
            ok = (user, password) == self.server.credentials
            self.reply("235 authenticated" if ok else "535 bad credentials")
        elif command == "MAIL":
            reply = self.server.mail_replies.pop(0) if self.server.mail_replies else "250 ok"
            self.sender, self.rcpts = arg, []
            self.reply(reply)
        elif command == "RCPT":
            address = arg.partition(":")[2].strip("<> ")
            refused = address in self.server.refused
            self.rcpts += [] if refused else [address]
            self.reply("550 no such user" if refused else "250 ok")
        elif command == "DATA":
            self.reply("354 end with <CRLF>.<CRLF>")
            data = b"".join(iter(self.rfile.readline, b".\r\n"))
            self.server.messages.append((self.sender, self.rcpts, data, self.is_tls))
            self.reply("250 queued")
        elif command in ("RSET", "NOOP"):
            self.reply("250 ok")
        elif command == "QUIT":
            self.reply("221 bye")
            return False
        else:
            self.reply("502 command not implemented")
        return True


def start(server: SmtpServer) -> Iterator[SmtpServer]:
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from start(SmtpServer())


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def firing_event() -> AlertEvent:
    evaluator = AlertEvaluator(["estimated_accuracy < 0.8 critical"])
    values = {"estimated_accuracy": {"": 0.72}}
    report = evaluator.evaluate(values, 1_700_000_000_000, 1_700_000_060_000, at=1_700_000_061_000)
    return report.events[0]


def test_email_is_delivered_with_subject_and_body(smtp: SmtpServer) -> None:
    event = firing_event()
    deliveries = EmailNotifier("127.0.0.1", smtp.port, SENDER, RECIPIENTS).send(event)
    assert [(d.attempt, d.outcome, d.status_code, d.error) for d in deliveries] == [
        (1, "delivered", 250, None)
    ]
    assert deliveries[0].target == f"127.0.0.1:{smtp.port}"
    [(sender, rcpts, data, is_tls)] = smtp.messages
    assert (sender, rcpts, is_tls) == (f"FROM:<{SENDER}>", RECIPIENTS, False)
    message = message_from_bytes(data, policy=policy.default)
    assert message["Subject"] == (
        "[FIRING] estimated_accuracy < 0.8 critical: 0.72 (threshold 0.8)"
    )
    assert message["To"] == ", ".join(RECIPIENTS)
    assert message["X-Conveyor-Event-Id"] == event.event_id
    body = message.get_content()
    assert "State: inactive -> firing" in body
    assert "Window: 2023-11-14T22:13:20+00:00 to 2023-11-14T22:14:20+00:00" in body


def test_transient_4xx_is_retried_and_5xx_is_final(smtp: SmtpServer) -> None:
    sleeps: list[float] = []
    notifier = EmailNotifier(
        "127.0.0.1",
        smtp.port,
        SENDER,
        RECIPIENTS,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01),
        sleep=sleeps.append,
    )
    smtp.mail_replies = ["421 try again later"]
    first = notifier.send(firing_event())
    assert [(d.outcome, d.status_code) for d in first] == [("retrying", 421), ("delivered", 250)]
    assert first[0].error == "SMTP 421: try again later"
    smtp.mail_replies = ["552 mailbox full"]
    second = notifier.send(firing_event())
    assert [(d.outcome, d.status_code) for d in second] == [("failed", 552)]
    assert len(sleeps) == 1
    assert len(smtp.messages) == 1


def test_login_is_used_when_configured(smtp: SmtpServer) -> None:
    good = EmailNotifier(
        "127.0.0.1", smtp.port, SENDER, RECIPIENTS, username="alerts", password="pa55"
    )
    assert good.send(firing_event())[0].outcome == "delivered"
    bad = EmailNotifier(
        "127.0.0.1", smtp.port, SENDER, RECIPIENTS, username="alerts", password="nope"
    )
    [delivery] = bad.send(firing_event())
    assert (delivery.outcome, delivery.status_code) == ("failed", 535)


def test_all_recipients_refused_fails_without_retry(smtp: SmtpServer) -> None:
    [delivery] = EmailNotifier("127.0.0.1", smtp.port, SENDER, ["nobody@example.test"]).send(
        firing_event()
    )
    assert delivery.outcome == "failed"
    assert delivery.error == "recipients refused: ['nobody@example.test']"


def test_starttls_upgrades_the_connection(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    for server in start(SmtpServer(tls=server_tls)):
        notifier = EmailNotifier(
            "127.0.0.1", server.port, SENDER, RECIPIENTS, starttls=True, ssl_context=client_tls
        )
        assert notifier.send(firing_event())[0].outcome == "delivered"
        assert server.messages[0][3] is True


def test_starttls_against_a_server_without_it_fails_clearly(smtp: SmtpServer) -> None:
    notifier = EmailNotifier("127.0.0.1", smtp.port, SENDER, RECIPIENTS, starttls=True)
    [delivery] = notifier.send(firing_event())
    assert delivery.outcome == "failed"
    assert "STARTTLS extension not supported" in (delivery.error or "")


def test_unreachable_server_is_retried_then_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    notifier = EmailNotifier(
        "127.0.0.1",
        port,
        SENDER,
        RECIPIENTS,
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.01),
        sleep=sleeps.append,
    )
    deliveries = notifier.send(firing_event())
    assert [d.outcome for d in deliveries] == ["retrying", "failed"]
    assert "ConnectionRefusedError" in (deliveries[-1].error or "")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": ""}, "host must be a host name"),
        ({"port": 0}, "port must be a TCP port"),
        ({"sender": "nobody"}, "sender must be an address"),
        ({"recipients": []}, "recipients must be a non-empty list"),
        ({"recipients": "ops@example.test"}, "recipients must be a non-empty list"),
        ({"username": "u"}, "password must be given together with username"),
    ],
)
def test_bad_email_settings_are_rejected(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 25,
        "sender": SENDER,
        "recipients": RECIPIENTS,
    }
    with pytest.raises(InvalidArgumentError, match=message):
        EmailNotifier(**{**settings, **kwargs})  # type: ignore[arg-type]
