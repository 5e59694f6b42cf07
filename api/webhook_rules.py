"""The rules every webhook call keeps: where it may go, how it is signed, what it carries.

A webhook URL is the agency's to choose, and the service calls it from inside its own network.
Unchecked, that made the service a way in (issue 18: 169.254.169.254, localhost, 10.x, [::1]
and user:pass@ URLs all answered), and each call carried carer names and client addresses in
plain HTTP. So:

- **Where.** HTTPS only (``CAREROTA_WEBHOOK_ALLOW_INSECURE`` lets local tests use http and
  loopback); no user or password in the URL; and every address the host name resolves to must be
  a public one (not private, loopback, link-local, multicast, reserved or unspecified). Checked
  when the URL is registered and again at every delivery, after resolving the name; the delivery
  then connects to the address it checked (TLS still verifies the name), so a name that
  resolves elsewhere a second later cannot slip past.
- **Who.** Each agency has its own secret (``whsec_...``, shown when the webhook is set). A call
  carries ``Carerota-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, so the
  receiver can tell the call is ours and recent (refuse a ``t`` more than five minutes old).
- **What.** Ids and links only: the rota, the absence, whether it was published, and where to
  fetch the change list with the agency's key. No names, addresses or care plans.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

SIGNATURE_HEADER: Final = "Carerota-Signature"
SECRET_PREFIX: Final = "whsec_"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeWebhook(ValueError):
    """A webhook URL the service will not call; the message says why, in plain words."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 43 URL-safe characters (32 random bytes)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return address.is_global and not address.is_multicast


def _parts(url: str, allow_insecure: bool) -> tuple[SplitResult, str, int]:
    """The URL's parts, host and port, or UnsafeWebhook for the scheme or credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeWebhook("not a URL") from None
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeWebhook(f"the webhook must be an https:// URL, not {parts.scheme or 'none'}")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhook("a webhook URL may not carry a user name or password")
    if not parts.hostname:
        raise UnsafeWebhook("the webhook URL has no host")
    return parts, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def public_addresses(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, all of them public (UnsafeWebhook otherwise, or when
    the name does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeWebhook(f"{host!r} does not resolve to an address") from None
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        if address not in found:
            found.append(address)
    inside = [str(a) for a in found if not _public(a)]
    if inside:
        raise UnsafeWebhook(
            f"{host!r} resolves to {', '.join(inside)}: not a public address; a webhook may "
            "not call into the service's own network"
        )
    if not found:
        raise UnsafeWebhook(f"{host!r} does not resolve to an address")
    return found


def check(url: str, *, allow_insecure: bool) -> None:
    """Refuse (UnsafeWebhook) a URL the service would not call: at registration.

    ``allow_insecure`` (local tests) lets http through and skips resolving the name."""
    _, host, port = _parts(url, allow_insecure)
    if not allow_insecure:
        public_addresses(host, port)


@dataclass(frozen=True)
class Delivery:
    """One signed call: where to, and what."""

    url: str
    body: bytes
    signature: str


def prepare(url: str, secret: str, payload: dict[str, Any]) -> Delivery:
    """The body (compact JSON) and its signature, timestamped now."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return Delivery(url, body, sign(secret, int(time.time()), body))


def deliver(delivery: Delivery, *, timeout: float, allow_insecure: bool) -> int:
    """POST the delivery to the address its host resolves to now, once checked; the status.

    UnsafeWebhook if the URL, or an address its host now resolves to, is one the service will
    not call; httpx.HTTPError if the call fails. Redirects are not followed: a redirect could
    lead anywhere, past every check.
    """
    parts, host, port = _parts(delivery.url, allow_insecure)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "carerota-webhook",
        SIGNATURE_HEADER: delivery.signature,
    }
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        if allow_insecure:
            return client.post(delivery.url, content=delivery.body, headers=headers).status_code
        pinned = public_addresses(host, port)[0]
        literal = f"[{pinned}]" if isinstance(pinned, ipaddress.IPv6Address) else str(pinned)
        target = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path, parts.query, ""))
        headers["Host"] = host if parts.port is None else f"{host}:{parts.port}"
        response = client.post(
            target, content=delivery.body, headers=headers, extensions={"sni_hostname": host}
        )
    return response.status_code
