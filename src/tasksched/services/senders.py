"""Sending one notice to one channel: a webhook POST, a JSON POST, or an e-mail over SMTP.

``send`` either returns (the channel accepted the notice) or raises ``SendFailed`` with what went
wrong in words; the caller records it and decides on a retry. Nothing here touches the database.

HTTP requests carry ``Idempotency-Key: <notice key>``: delivery is at least once, and a receiver
that keeps the keys it has seen turns a rare duplicate into exactly once. With an HMAC secret they
also carry ``X-Tasksched-Timestamp`` and ``X-Tasksched-Signature: v1=<hex>``, the HMAC-SHA256 of
``<timestamp>.<body>`` under the secret (docs/operations.md shows how to check it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx
import orjson

from tasksched import __version__
from tasksched.domain.notifications import EmailChannel, JsonChannel, WebhookChannel
from tasksched.domain.secrets import redact

SIGNATURE_HEADER = "X-Tasksched-Signature"
TIMESTAMP_HEADER = "X-Tasksched-Timestamp"
NOTICE_HEADER = "X-Tasksched-Notice"
_ERROR_BODY_CHARS = 200


class SendFailed(Exception):
    """The channel did not accept the notice (refused, unreachable, timed out)."""


@dataclass(frozen=True)
class Message:
    """What is sent: the words, the JSON document, and the key that names this notice."""

    key: str  # unique per notice ("notice-12", "test-…"): Idempotency-Key, Message-ID
    text: str
    document: dict[str, Any]  # the generic JSON payload, its ``url`` filled in

    @property
    def subject(self) -> str:
        first = self.text.splitlines()[0] if self.text else "notice"
        return f"[tasksched] {first[:150]}"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def webhook_body(config: WebhookChannel, message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {"text": message.text}
    if config.blocks:
        blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": message.text}}]
        url = message.document.get("url")
        if url:
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{url}|Open in tasksched>"}]}
            )
        body["blocks"] = blocks
    return body


async def send(
    config: WebhookChannel | JsonChannel | EmailChannel,
    message: Message,
    *,
    client: httpx.AsyncClient,
    timeout: float,
    secrets: list[str],
) -> None:
    """Deliver ``message``; raise ``SendFailed`` (its text free of ``secrets``) if not accepted."""
    try:
        # One deadline for the whole attempt: the clients' own timeouts are per step (connect,
        # each read), which a peer trickling its answer would stretch without end.
        async with asyncio.timeout(timeout):
            if isinstance(config, EmailChannel):
                await asyncio.to_thread(_send_email, config, message, timeout)
            elif isinstance(config, WebhookChannel):
                body = webhook_body(config, message)
                await _post(client, config.url, body, {}, config.hmac_secret, message, timeout)
            else:
                headers = config.headers
                await _post(
                    client, config.url, message.document, headers, config.hmac_secret, message, timeout
                )
    except SendFailed as exc:
        raise SendFailed(redact(str(exc), secrets)) from None
    except TimeoutError:
        raise SendFailed(f"no answer within {timeout:g} s") from None
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise SendFailed(redact(f"{type(exc).__name__}: {exc}", secrets)) from None


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    extra: dict[str, str],
    secret: str | None,
    message: Message,
    timeout: float,
) -> None:
    raw = orjson.dumps(body)
    headers = {
        **extra,
        "Content-Type": "application/json",
        "User-Agent": f"tasksched/{__version__}",
        "Idempotency-Key": message.key,
        NOTICE_HEADER: message.key,
    }
    if secret is not None:
        stamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = stamp
        headers[SIGNATURE_HEADER] = signature(secret, stamp, raw)
    try:
        response = await client.post(
            url, content=raw, headers=headers, timeout=timeout, follow_redirects=False
        )
    except httpx.TimeoutException:
        raise SendFailed(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        text = response.text[:_ERROR_BODY_CHARS].strip()
        raise SendFailed(f"HTTP {response.status_code}" + (f": {text}" if text else ""))


def _send_email(config: EmailChannel, message: Message, timeout: float) -> None:
    """Blocking: run in a thread. smtplib is the standard library's, with its timeouts."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = config.from_address
    mail["To"] = ", ".join(config.to)
    mail["Message-ID"] = make_msgid(idstring=message.key, domain="tasksched")
    mail[NOTICE_HEADER] = message.key
    url = message.document.get("url")
    mail.set_content(message.text + (f"\n\n{url}\n" if url else "\n"))
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
    with smtp:
        if config.security == "starttls":
            smtp.starttls(context=context)
        if config.username is not None:
            smtp.login(config.username, config.password or "")
        refused = smtp.send_message(mail)
    if refused:
        raise SendFailed(f"the server refused {', '.join(sorted(refused))}")
