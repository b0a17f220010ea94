"""The local platform: `invoke up` (SQLite, no cloud) and `invoke test`."""

import asyncio
import json
import os
import secrets
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from invoke import Context, task

from app.settings import DEFAULT_STATE_DIR, Settings, load_settings

DEMO_STATE = DEFAULT_STATE_DIR / "demo-merchant.json"
DEMO_NAME = "Demo Shop"
DEMO_DOMAINS = ["localhost"]
DEMO_OWNER_EMAIL = "owner@demo-shop.example"


@dataclass(frozen=True, slots=True)
class DemoMerchant:
    merchant_id: str
    secret_key: str
    publishable_key: str
    # The demo owner's portal sign-in; empty in state files written before the portal.
    portal_email: str = ""
    portal_password: str = ""


def seed_demo_merchant(settings: Settings, state_file: Path = DEMO_STATE) -> DemoMerchant:
    """The demo merchant and working keys, created once and reused on every later run.

    Keys are stored only as hashes in the database, so the plaintexts are kept in a local,
    gitignored state file; if that file is lost or its keys were revoked, fresh keys are minted.
    """
    saved = DemoMerchant(**json.loads(state_file.read_text())) if state_file.exists() else None
    demo = asyncio.run(_ensure_demo_merchant(settings, saved))
    if demo != saved:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(asdict(demo), indent=2))
        state_file.chmod(0o600)
    return demo


async def _ensure_demo_merchant(settings: Settings, saved: DemoMerchant | None) -> DemoMerchant:
    from app.db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        sessions = session_factory(engine)
        demo = await _ensure_demo_keys(sessions, saved)
        return await _ensure_demo_owner(sessions, demo)
    finally:
        await engine.dispose()


async def _ensure_demo_owner(sessions: Any, demo: DemoMerchant) -> DemoMerchant:
    """The demo merchant's portal owner, signing in with the saved password (a new random one
    when there is none, or it no longer works)."""
    from app.services import accounts

    async with sessions() as session:
        if demo.portal_password:
            user = await accounts.authenticate(session, DEMO_OWNER_EMAIL, demo.portal_password)
            if user is not None and user.merchant_id == demo.merchant_id:
                return demo
        password = secrets.token_urlsafe(12)
        user = await accounts.find_user(session, DEMO_OWNER_EMAIL)
        if user is not None and user.merchant_id != demo.merchant_id:
            await session.delete(user)  # the owner of a demo merchant that was replaced
            await session.flush()
            user = None
        if user is None:
            await accounts.add_user(
                session,
                merchant_id=demo.merchant_id,
                email=DEMO_OWNER_EMAIL,
                role="owner",
                password=password,
            )
        else:
            await accounts.set_password(session, user, password)
        await session.commit()
    return replace(demo, portal_email=DEMO_OWNER_EMAIL, portal_password=password)


async def _ensure_demo_keys(sessions: Any, saved: DemoMerchant | None) -> DemoMerchant:
    """The saved merchant if it and its keys still work, else a new one."""
    from app.services.keys import KeyResolver
    from app.services.merchants import create_merchant, get_merchant

    if saved is not None:
        resolver = KeyResolver(sessions, ttl=0)
        async with sessions() as session:
            merchant = await get_merchant(session, saved.merchant_id)
        if (
            merchant is not None
            and await resolver.resolve(saved.secret_key) is not None
            and await resolver.resolve(saved.publishable_key) is not None
        ):
            return saved
    async with sessions() as session:
        created = await create_merchant(session, name=DEMO_NAME, domains=DEMO_DOMAINS)
    return DemoMerchant(
        merchant_id=created.merchant.id,
        secret_key=created.secret_key.plaintext,
        publishable_key=created.publishable_key.plaintext,
    )


@task(
    help={
        "host": "interface to bind (default 127.0.0.1)",
        "port": "API port (default 8000)",
        "shop_port": "demo shop port, a second origin embedding the widget (default 8001; 0: off)",
    }
)
def up(c: Context, host: str = "127.0.0.1", port: int = 8000, shop_port: int = 8001) -> None:
    """Run the platform locally on SQLite: migrate, seed a demo merchant, serve until Ctrl-C."""
    import uvicorn
    from rich.console import Console

    from app.db.migrate import upgrade
    from app.logs import configure_logging
    from app.main import create_app
    from ops.demo_shop import demo_shop

    console = Console(stderr=True)
    settings = load_settings(
        PUBLIC_BASE_URL=os.environ.get("PUBLIC_BASE_URL", f"http://{host}:{port}")
    )
    with console.status("Migrating the database…"):
        upgrade(settings.database_url)
    demo = seed_demo_merchant(settings)
    base = settings.public_base_url
    with demo_shop(
        settings, demo.merchant_id, demo.publishable_key, host=host, port=shop_port
    ) as shop_url:
        shop_line = (
            f"  Demo shop      {shop_url}  (its own origin, with the widget)\n" if shop_url else ""
        )
        console.print(
            f"\n[bold]RAG Assistant is running[/bold] (database: {settings.database_url})\n"
            f"  API            {base}/api\n"
            f"  API docs       {base}/api/docs\n"
            f"  Health         {base}/healthz   Metrics {base}/metrics\n"
            f"  Widget         {settings.widget_loader_url}\n"
            f"{shop_line}\n"
            f"  Demo merchant  {demo.merchant_id}\n"
            f"  Secret key     {demo.secret_key}\n"
            f"  Publishable    {demo.publishable_key}\n\n"
            f"  Portal         {base}/portal/  sign in as {demo.portal_email}\n"
            f"                 password {demo.portal_password}\n\n"
            f"  Try: curl -H 'Authorization: Bearer {demo.secret_key}' {base}/api/keys\n"
            "  Press Ctrl-C to stop.\n"
        )
        configure_logging(settings.log_level)
        app = create_app(settings, run_worker=True)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


@task(
    help={
        "args": "extra arguments for pytest, e.g. -k cors or -x",
    }
)
def test(c: Context, args: str = "") -> None:
    """Run ruff, mypy --strict, then the whole test suite; uses DATABASE_URL/REDIS_URL when set,
    as CI does."""
    # The cheap checks first: a type error fails in seconds, not after the suite.
    c.run(f"{sys.executable} -m ruff check .", pty=sys.stdout.isatty())
    c.run(f"{sys.executable} -m mypy", pty=sys.stdout.isatty())  # files and strictness: pyproject
    c.run(f"{sys.executable} -m pytest {args}", pty=sys.stdout.isatty())
