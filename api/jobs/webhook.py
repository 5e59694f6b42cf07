"""Telling an agency's webhook what a re-solve changed."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Final

from sqlalchemy import select as sql_select

from api.db import Agency, Database
from api.jobs.claims import Claim
from api.settings import Settings

log = logging.getLogger("carerota.jobs")


# Seconds between webhook attempts; a delivery is given up after the last.
WEBHOOK_BACKOFF: Final = (1.0, 3.0, 9.0)


def notify(
    db: Database, settings: Settings, c: Claim, changes: dict[str, Any], published: bool
) -> threading.Thread | None:
    """POST the change list to the agency's webhook, if it has one, retrying in the background.

    The job is done whatever the webhook does: a receiver that is down must not hold the
    supervisor, so delivery runs in a thread of its own.
    """
    with db.read() as s:
        url = s.scalar(sql_select(Agency.webhook_url).where(Agency.id == c.agency_id))
    if not url:
        return None
    payload = {
        "event": "rota.resolved",
        "rota": c.job_id,
        "published": published,
        "absence": c.absence_id,
        "changes": changes,
    }

    def deliver() -> None:
        import httpx

        for attempt, pause in enumerate((0.0, *WEBHOOK_BACKOFF), start=1):
            time.sleep(pause)
            try:
                response = httpx.post(url, json=payload, timeout=settings.webhook_timeout)
                if response.status_code < 300:
                    log.info("job %s: webhook delivered (attempt %d)", c.job_id, attempt)
                    return
                log.warning("job %s: webhook answered %d", c.job_id, response.status_code)
            except httpx.HTTPError as exc:
                log.warning("job %s: webhook failed: %s", c.job_id, type(exc).__name__)
        log.error("job %s: webhook given up after %d attempts", c.job_id, attempt)

    thread = threading.Thread(target=deliver, name=f"webhook-{c.job_id}", daemon=True)
    thread.start()
    return thread
