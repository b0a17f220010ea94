"""Outgoing webhooks (DESIGN §10): Standard Webhooks signatures, a transactional outbox and a
worker that delivers at least once, with retries, to each merchant's endpoints.

Other features only need `emit_event`, called inside their own transaction.
"""

from app.services.webhooks.dispatcher import deliver_webhooks
from app.services.webhooks.events import EVENT_TYPES, InvalidEvent
from app.services.webhooks.outbox import emit_event
from app.services.webhooks.retention import prune_webhook_log

__all__ = ["EVENT_TYPES", "InvalidEvent", "deliver_webhooks", "emit_event", "prune_webhook_log"]
