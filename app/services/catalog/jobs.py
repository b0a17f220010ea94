"""The worker's catalog job: start scheduled feed pulls and retire runs whose process died.

Several workers may run it at once: a schedule is claimed by moving its `next_run_at` with a
conditional UPDATE (only one worker's update matches), and the one-active-run index refuses a
second run for a merchant. Pulls run as background tasks, a few per worker, so a long import
never holds up the other jobs.
"""

import logging
import time
from datetime import timedelta

from sqlalchemy import select, update

from app.db.models import SyncConfig, utcnow
from app.logs import LogFields
from app.platform import Platform
from app.services.catalog import feeds
from app.services.catalog.execute import in_background
from app.services.catalog.runs import RunConflict, recover_interrupted_runs, start_run
from app.services.catalog.terms import as_mode

log = logging.getLogger(__name__)

MAX_CONCURRENT_PULLS = 2
_SWEEP_EVERY = 30.0
_state = {"swept_at": 0.0, "pulls": 0}


async def run_scheduled_feeds(platform: Platform) -> int:
    """One round: sweep abandoned runs (now and then), start due pulls. Returns the work done."""
    settings = platform.settings
    stale_after = timedelta(seconds=settings.sync_run_stale_seconds)
    done = 0
    if time.monotonic() - _state["swept_at"] > min(_SWEEP_EVERY, settings.sync_run_stale_seconds):
        _state["swept_at"] = time.monotonic()
        done += await recover_interrupted_runs(platform.sessions, stale_after=stale_after)
    if not (await platform.flags.current()).product_sync_enabled:
        return done
    room = MAX_CONCURRENT_PULLS - _state["pulls"]
    if room <= 0:
        return done
    now = utcnow()
    async with platform.sessions() as session:
        due = (
            await session.scalars(
                select(SyncConfig)
                .where(SyncConfig.source_type == "url", SyncConfig.next_run_at <= now)
                .order_by(SyncConfig.next_run_at)
                .limit(int(room))
            )
        ).all()
    for config in due:
        if await _claim(platform, config, stale_after):
            done += 1
    return done


async def _claim(platform: Platform, config: SyncConfig, stale_after: timedelta) -> bool:
    assert config.interval_minutes and config.next_run_at
    now = utcnow()
    async with platform.sessions() as session:
        claimed = await session.scalar(
            update(SyncConfig)
            .where(
                SyncConfig.merchant_id == config.merchant_id,
                SyncConfig.next_run_at == config.next_run_at,
            )
            .values(next_run_at=now + timedelta(minutes=config.interval_minutes))
            .returning(SyncConfig.merchant_id)
        )
        await session.commit()
        if claimed is None:
            return False  # another worker took it
        try:
            run = await start_run(
                session,
                merchant_id=config.merchant_id,
                source="feed",
                trigger="schedule",
                mode=as_mode(config.mode),
                force=False,
                source_url=config.source_url,
                stale_after=stale_after,
            )
        except RunConflict as exc:
            log.info(
                "scheduled feed pull skipped: a run is active",
                extra=LogFields(merchantId=config.merchant_id, runId=exc.run.id),
            )
            return False
    _state["pulls"] += 1
    task = in_background(feeds.pull(platform.sessions, platform.settings, run, config))
    task.add_done_callback(lambda _: _state.__setitem__("pulls", _state["pulls"] - 1))
    return True
