"""When to try again (DESIGN §10): the retry schedule with jitter, and `Retry-After`."""

import math
import random
from datetime import datetime
from email.utils import parsedate_to_datetime

from app.parsing import ascii_digits

JITTER = 0.2  # ±20%, so endpoints that failed together do not all come back together
RETRY_AFTER_STATUSES = frozenset({429, 503})
# A receiver may ask us to wait, but not to park an event for longer than this.
MAX_RETRY_AFTER_SECONDS = 86_400.0
# Triggers whose failures are retried on the schedule; manual retries and tests are one-off.
SCHEDULED_TRIGGERS = frozenset({"event", "retry"})


def retry_delay(
    schedule: tuple[float, ...],
    failed_attempt: int,
    retry_after: float | None,
    rng: random.Random,
) -> float | None:
    """Seconds until the next attempt after attempt number `failed_attempt` (1-based) failed,
    or None when the schedule is used up. `Retry-After` can only push the retry later."""
    if failed_attempt > len(schedule):
        return None
    delay = schedule[failed_attempt - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """RFC 9110 `Retry-After`: delay-seconds or an HTTP-date; None if absent or malformed."""
    if not value:
        return None
    value = value.strip()
    if ascii_digits(value):
        # Any number of digits is a valid delay; past 18 it is beyond every cap anyway.
        return float(value) if len(value) <= 18 else math.inf
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
