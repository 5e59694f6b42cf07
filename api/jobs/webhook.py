"""Telling an agency's webhook that a re-solve finished: ids and links, signed, to a public
address only (the rules: :mod:`api.webhook_rules`)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Final

import httpx
from sqlalchemy import select as sql_select

from api import webhook_rules
from api.db import Agency, Database
from api.jobs.claims import Claim
from api.settings import Settings

log = logging.getLogger("carerota.jobs")


# Seconds between webhook attempts; a delivery is given up after the last.
WEBHOOK_BACKOFF: Final = (1.0, 3.0, 9.0)


def payload(
    settings: Settings, c: Claim, published: bool, changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the call says: which rota and absence, whether it was published, where to read the
    rest with the agency's key, and the change list's shape by id: who is to be told, one entry
    per day with the visits of that day's message (``changes.workers[].days``), and the visits
    still unstaffed. Never a name, an address, a time or a care plan: the receiver may log every
    call, and the words are a key's read of ``links.changes``, recorded in the access log."""
    rota = f"{(settings.public_url or '').rstrip('/')}/v1/rotas/{c.job_id}"
    cl = changes or {}
    return {
        "event": "rota.resolved",
        "rota": c.job_id,
        "absence": c.absence_id,
        "published": published,
        "links": {"rota": rota, "changes": f"{rota}/changes"},
        "messages": [
            {
                "worker": wm["worker"],
                "days": [
                    {"date": day["date"], "visits": [line["visit"] for line in day["lines"]]}
                    for day in wm["days"]
                ],
            }
            for wm in cl.get("workers", [])
        ],
        "unstaffed": [u["visit"] for u in cl.get("unstaffed", [])],
    }


def notify(
    db: Database,
    settings: Settings,
    c: Claim,
    published: bool,
    changes: dict[str, Any] | None = None,
) -> threading.Thread | None:
    """POST the news (and ``changes``' shape, :func:`payload`) to the agency's webhook, if it
    has one, retrying in the background.

    The job is done whatever the webhook does: a receiver that is down must not hold the
    supervisor, so delivery runs in a thread of its own. A webhook set before calls were signed
    has no secret and is not called (setting it again makes one).
    """
    with db.read() as s:
        row = s.execute(
            sql_select(Agency.webhook_url, Agency.webhook_secret).where(Agency.id == c.agency_id)
        ).one_or_none()
    if row is None or not row.webhook_url:
        return None
    if not row.webhook_secret:
        log.warning("job %s: the webhook has no signing secret; set it again", c.job_id)
        return None
    delivery = webhook_rules.prepare(
        row.webhook_url, row.webhook_secret, payload(settings, c, published, changes)
    )

    def deliver() -> None:
        for attempt, pause in enumerate((0.0, *WEBHOOK_BACKOFF), start=1):
            time.sleep(pause)
            try:
                status = webhook_rules.deliver(
                    delivery,
                    timeout=settings.webhook_timeout,
                    allow_insecure=settings.webhook_allow_insecure,
                )
            except webhook_rules.UnsafeWebhook as exc:
                # Checked when it was set, but a name can come to resolve elsewhere.
                log.error("job %s: webhook not called: %s", c.job_id, exc)
                return
            except httpx.HTTPError as exc:
                log.warning("job %s: webhook failed: %s", c.job_id, type(exc).__name__)
                continue
            if status < 300:
                log.info("job %s: webhook delivered (attempt %d)", c.job_id, attempt)
                return
            log.warning("job %s: webhook answered %d", c.job_id, status)
        log.error("job %s: webhook given up after %d attempts", c.job_id, attempt)

    thread = threading.Thread(target=deliver, name=f"webhook-{c.job_id}", daemon=True)
    thread.start()
    return thread
