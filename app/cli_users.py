"""`ragassist users ...` and the owner of `ragassist merchants create --owner-email`: portal
accounts from the command line. People get one-time links to choose their own password; the
CLI never prints or takes a password."""

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings


def add_commands(commands: Any) -> None:
    """The `users` subcommand and its actions, on the CLI's subparsers."""
    users = commands.add_parser("users", help="manage portal users (people who sign in)")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list portal users")
    listing.add_argument("--merchant", help="only this merchant's users (mer_...)")
    add = actions.add_parser("add", help="add a user and print their one-time password link")
    add.add_argument("--merchant", required=True, help="the merchant id (mer_...)")
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=["owner", "developer", "viewer"])
    remove = actions.add_parser("remove", help="remove a user; their sessions end")
    remove.add_argument("--email", required=True)
    reset = actions.add_parser(
        "reset-password", help="print a one-time link to set a new password; sessions end"
    )
    reset.add_argument("--email", required=True)
    role = actions.add_parser("set-role", help="change a user's role")
    role.add_argument("--email", required=True)
    role.add_argument("--role", required=True, choices=["owner", "developer", "viewer"])


def password_link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}/portal/link/{token}"


async def owner_link(
    session: AsyncSession, settings: Settings, merchant_id: str, email: str
) -> str:
    """The merchant's first owner, without a password yet, and the link to set it."""
    from app.services import accounts

    user = await accounts.add_user(session, merchant_id=merchant_id, email=email, role="owner")
    made = await accounts.create_link(
        session,
        merchant_id=merchant_id,
        purpose="password",
        email=user.email,
        role=user.role,
        user_id=user.id,
    )
    return password_link_url(settings, made.token)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.services import accounts
    from app.services.merchants import get_merchant

    async def work(session: AsyncSession) -> int:
        if args.action == "list":
            for row in await accounts.list_users(session, args.merchant):
                seen = row.last_sign_in_at.isoformat() if row.last_sign_in_at else "never"
                state = "" if row.password_hash else "  (no password yet)"
                print(f"{row.merchant_id}  {row.email:<40} {row.role:<10} {seen}{state}")
            return 0
        if args.action == "add":
            if await get_merchant(session, args.merchant) is None:
                raise accounts.AccountError(f"no merchant {args.merchant}")
            added = await accounts.add_user(
                session, merchant_id=args.merchant, email=args.email, role=args.role
            )
            return await _print_link(session, settings, added, "set their password")
        user = await accounts.find_user(session, args.email.strip())
        if user is None:
            raise accounts.AccountError(f"no portal user {args.email}")
        if args.action == "remove":
            await accounts.remove_user(session, user)
            await session.commit()
            print(f"removed {user.email}", file=sys.stderr)
            return 0
        if args.action == "set-role":
            await accounts.set_role(session, user, args.role)
            await session.commit()
            print(f"{user.email} is now {args.role}", file=sys.stderr)
            return 0
        await accounts.revoke_sessions(session, user.id)
        return await _print_link(session, settings, user, "choose a new password")

    return await with_session(settings, work)


async def _print_link(session: AsyncSession, settings: Settings, user: Any, purpose: str) -> int:
    from app.services import accounts

    made = await accounts.create_link(
        session,
        merchant_id=user.merchant_id,
        purpose="password",
        email=user.email,
        role=user.role,
        user_id=user.id,
    )
    await session.commit()
    print(password_link_url(settings, made.token))
    print(
        f"Send this one-time link to {user.email} to {purpose} (valid 24 hours).",
        file=sys.stderr,
    )
    return 0


class NotMigrated(Exception):
    def __init__(self) -> None:
        super().__init__("the database is not migrated; run `ragassist migrate` first")


@contextlib.asynccontextmanager
async def cli_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the configured database (its password from Secrets Manager when
    DATABASE_SECRET_ARN is set), refused with NotMigrated before the latest migration."""
    from app.db.engine import create_engine, session_factory
    from app.db.migrate import current_revisions, head_revisions

    engine = create_engine(
        settings.database_url, pool_size=1, password_secret_arn=settings.database_secret_arn
    )
    try:
        if await current_revisions(engine) != head_revisions():
            raise NotMigrated
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[int]]) -> int:
    """Run `work` on a migrated database; account errors become a message and exit code 2."""
    from app.services.accounts import AccountError

    try:
        async with cli_session(settings) as session:
            return await work(session)
    except (NotMigrated, AccountError) as exc:
        print(f"ragassist: {exc}", file=sys.stderr)
        return 2
