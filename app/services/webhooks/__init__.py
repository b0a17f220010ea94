"""Outgoing webhooks (DESIGN §10): Standard Webhooks signatures, a transactional outbox and a
worker that delivers at least once, with retries, to each merchant's endpoints.

Other features only need `emit_event`, called inside their own transaction. The worker's jobs
(`dispatcher.deliver_webhooks`, `retention.prune_webhook_log`) take the `Platform`, which itself
reads the catalog (and so the outbox): they are imported from their modules, not from here.
"""

from app.services.webhooks.events import EVENT_TYPES, InvalidEvent
from app.services.webhooks.outbox import emit_event

__all__ = ["EVENT_TYPES", "InvalidEvent", "emit_event"]
