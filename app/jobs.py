"""The jobs the background worker runs (see app/worker.py), in order, every round."""

from app.services.catalog.jobs import run_scheduled_feeds
from app.services.chat.embedding_job import embed_catalogs
from app.services.webhooks.dispatcher import deliver_webhooks
from app.services.webhooks.retention import prune_webhook_log
from app.worker import Job

JOBS: list[Job] = [deliver_webhooks, prune_webhook_log, run_scheduled_feeds, embed_catalogs]
