"""`ragassist`: serve the API, migrate the database, manage merchants."""

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from app import cli_users
from app.settings import Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragassist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-For is trusted (the ALB's subnet in AWS)",
    )

    commands.add_parser("migrate", help="apply database migrations up to the latest")
    worker = commands.add_parser(
        "worker", help="run background jobs (webhook delivery, scheduled syncs) until SIGTERM"
    )
    # Its counters (webhook deliveries, feed syncs) live in its own process: Prometheus must
    # scrape it as it scrapes the API's /metrics.
    worker.add_argument("--metrics-port", type=int, default=0, help="serve /metrics (0: off)")
    worker.add_argument("--metrics-host", default="127.0.0.1", help="interface for /metrics")

    merchants = commands.add_parser("merchants", help="manage merchants")
    merchant_commands = merchants.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = merchant_commands.add_parser(
        "create", help="create a merchant and print its id and keys (shown once)"
    )
    create.add_argument("--name", required=True, help="the shop's display name")
    create.add_argument(
        "--domain",
        action="append",
        default=[],
        help="a hostname allowed to embed the widget (repeatable; *.example.com allowed)",
    )
    create.add_argument("--json", action="store_true", help="print JSON instead of text")
    create.add_argument(
        "--owner-email", help="also create the portal owner and print a one-time sign-in link"
    )
    cli_users.add_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ragassist: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.forwarded_allow_ips)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "worker":
        return _worker(settings, args.metrics_host, args.metrics_port)
    if args.command == "users":
        return asyncio.run(cli_users.run(args, settings))
    return asyncio.run(
        _create_merchant(
            settings, args.name, args.domain, as_json=args.json, owner_email=args.owner_email
        )
    )


KEEP_ALIVE_SECONDS = 125


def _serve(settings: Settings, host: str, port: int, forwarded_allow_ips: str) -> int:
    import uvicorn

    from app.logs import configure_logging
    from app.main import create_app

    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=None,
        access_log=False,
        # Longer than the load balancer's idle timeout (stacks: 120 s): a server that closes an
        # idle connection first races the ALB reusing it, and the ALB answers that request 502.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


def _worker(settings: Settings, metrics_host: str, metrics_port: int) -> int:
    from app.jobs import JOBS
    from app.logs import configure_logging
    from app.platform import Platform
    from app.worker import run_worker

    configure_logging(settings.log_level)
    # Until the worker loop takes SIGTERM over (run_worker), a stop has no batch to finish: exit
    # cleanly. Without this, a supervisor stopping a worker that has just served its first
    # /metrics scrape would see it die of the signal.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if metrics_port:
        from prometheus_client import start_http_server

        from app.metrics import REGISTRY

        start_http_server(metrics_port, addr=metrics_host, registry=REGISTRY)
    _run_on_event_loop(run_worker(Platform(settings), JOBS))
    return 0


def _run_on_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """On uvloop when it is installed (uvicorn[standard] brings it), as uvicorn runs the API:
    webhook delivery and feed pulls are network-bound, and its loop is the faster one."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] installs it on Linux and macOS
        asyncio.run(main)
    else:
        uvloop.run(main)


def _migrate(settings: Settings) -> int:
    from app.db.migrate import head_revisions, upgrade
    from app.logs import configure_logging

    configure_logging(settings.log_level)
    upgrade(settings.database_url, password_secret_arn=settings.database_secret_arn)
    print(f"database at revision {', '.join(sorted(head_revisions()))}", file=sys.stderr)
    return 0


async def _create_merchant(
    settings: Settings, name: str, domains: list[str], *, as_json: bool, owner_email: str | None
) -> int:
    from app.services import accounts
    from app.services.domains import DomainError
    from app.services.merchants import create_merchant

    if not name.strip():
        print("ragassist: --name must not be empty", file=sys.stderr)
        return 2
    try:
        async with cli_users.cli_session(settings) as session:
            if owner_email is not None:
                await accounts.check_new_email(session, owner_email)  # before anything is made
            created = await create_merchant(session, name=name, domains=domains)
            if owner_email is not None:
                link = await cli_users.owner_link(
                    session, settings, created.merchant.id, owner_email
                )
                await session.commit()
    except cli_users.NotMigrated as exc:
        print(f"ragassist: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"ragassist: bad --domain: {exc}", file=sys.stderr)
        return 2
    except accounts.AccountError as exc:
        print(f"ragassist: bad --owner-email: {exc}", file=sys.stderr)
        return 2
    result = {
        "merchantId": created.merchant.id,
        "name": created.merchant.name,
        "allowedDomains": list(created.domains),
        "secretKey": created.secret_key.plaintext,
        "publishableKey": created.publishable_key.plaintext,
    }
    if owner_email is not None:
        result["portalSignInLink"] = link  # one-time: sets the owner's password, signs them in
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        for label, value in result.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"{label:>15}: {shown or '(any)'}")
        print("\nThe keys are shown once; store them now.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
