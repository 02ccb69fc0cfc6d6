"""`flylive` command line: serve, migrate, seed, reconcile, agency settle, createadmin.

Every command reads the same environment configuration. Without DATABASE_URL / REDIS_URL the
embedded servers start first (data under FLYLIVE_DATA_DIR) and stop when the command ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import getpass
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import asyncpg

from engine.config import Config, ConfigError, development_warnings, ensure_jwt_secret, load_config
from engine.embedded import EmbeddedServer, start_postgres, start_valkey
from engine.logs import setup_logging
from engine.migrations import migrate

if TYPE_CHECKING:
    from engine.economy.reconcile import Report
    from engine.services import Services

log = logging.getLogger("flylive.cli")
EMBEDDED_DB_NAME = "flylive"


async def _ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def resolved_servers(config: Config, *, need_redis: bool = True) -> Iterator[Config]:
    """Yield `config` with both URLs set, starting embedded servers for the missing ones."""
    started: list[EmbeddedServer] = []
    try:
        if not config.database_url:
            pg = start_postgres(config.data_dir / "postgres")
            started.append(pg)
            asyncio.run(_ensure_database(pg.url, EMBEDDED_DB_NAME))
            config = config.with_overrides(database_url=pg.url.rsplit("/", 1)[0] + f"/{EMBEDDED_DB_NAME}")
        if need_redis and not config.redis_url:
            valkey = start_valkey(config.data_dir / "valkey")
            started.append(valkey)
            config = config.with_overrides(redis_url=valkey.url)
        yield config
    finally:
        for server in reversed(started):
            server.stop()


async def _migrate_and_seed(config: Config, *, seed: bool) -> None:
    from engine.db import create_pool
    from engine.seed import seed_demo

    conn = await asyncpg.connect(config.database_url)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    log.info("migrations done", extra={"applied": applied})
    if seed:
        pool = await create_pool(config.with_overrides(db_pool_min=1, db_pool_max=2))
        try:
            await seed_demo(pool, config)
        finally:
            await pool.close()


def tune_collector(config: Config) -> None:
    """The process-wide garbage collector settings of a long-lived server (GC_THRESHOLDS). Objects
    made at start-up are frozen out of its passes; the threshold of the youngest generation, in
    allocations, decides how often the older ones (every socket's objects) are walked."""
    gc.freeze()
    gc.set_threshold(*config.gc_thresholds)


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from aiohttp import web

    from engine.app import create_app

    started = time.monotonic()
    config = ensure_jwt_secret(config)
    for warning in development_warnings(config):
        log.warning(warning, extra={"environment": config.environment})
    with resolved_servers(config) as config:
        asyncio.run(_migrate_and_seed(config, seed=config.seed_demo and not args.no_seed))
        app = create_app(config)
        tune_collector(config)
        _print_dashboard(config, seeded=config.seed_demo and not args.no_seed)
        loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(ImportError):
            import uvloop

            loop = uvloop.new_event_loop()
        log.info(
            "serving",
            extra={"host": config.host, "port": config.port, "startup_seconds": round(time.monotonic() - started, 2)},
        )
        web.run_app(
            app,
            host=config.host,
            port=config.port,
            print=None,
            access_log=None,
            shutdown_timeout=config.shutdown_grace_seconds,
            loop=loop,
        )
    log.info("stopped")
    return 0


def _print_dashboard(config: Config, *, seeded: bool) -> None:
    """Where the dashboard is (and, with the demo data, who can sign in to it), for a person at the terminal."""
    from engine.seed import DEMO_PASSWORD, DEMO_USERS

    host = "localhost" if config.host in ("0.0.0.0", "::", "") else config.host
    print(f"Dashboard: http://{host}:{config.port}/admin/", flush=True)
    admin = next((user for user in DEMO_USERS if user[5] == "super_admin"), None)
    if seeded and admin is not None:
        print(f"  demo super-admin: phone {admin[1]}, password {DEMO_PASSWORD!r}", flush=True)


def cmd_migrate(config: Config, args: argparse.Namespace) -> int:
    with resolved_servers(config, need_redis=False) as config:
        asyncio.run(_migrate_and_seed(config, seed=False))
    return 0


def cmd_seed(config: Config, args: argparse.Namespace) -> int:
    with resolved_servers(config, need_redis=False) as config:
        asyncio.run(_migrate_and_seed(config, seed=True))
    return 0


async def _create_admin(config: Config, args: argparse.Namespace, password: str) -> int:
    from engine.accounts import store
    from engine.accounts.model import RegisterBody, check_adult
    from engine.audit.store import record_txn
    from engine.auth.passwords import PasswordHasher
    from engine.db import create_pool
    from engine.validation import convert_fields

    body = convert_fields(
        RegisterBody,
        {
            "name": args.name,
            "phone": args.phone,
            "country": args.country,
            "gender": "others",
            "dob": args.dob,
            "password": password,
        },
    )
    check_adult(body.dob)
    pool = await create_pool(config.with_overrides(db_pool_min=1, db_pool_max=2))
    try:
        async with pool.acquire() as conn, conn.transaction():
            user = await store.get_user_by_phone(conn, body.phone)
            if user is None:
                hasher = PasswordHasher(config.argon2_memory_kib, config.argon2_time_cost)
                signature = "@" + args.phone.lstrip("+")
                user = await store.insert_user_txn(
                    conn,
                    name=body.name,
                    phone=body.phone,
                    signature=signature,
                    password_hash=await hasher.hash(password),
                    country=body.country.lower(),
                    gender=3,
                    dob=body.dob,
                    email=None,
                )
                await store.grant_role_txn(conn, user["id"], "user", None)
            await store.grant_role_txn(conn, user["id"], args.role, None)
            await record_txn(
                conn,
                actor_id=None,
                action="role.grant",
                target_type="user",
                target_id=user["id"],
                details={"role": args.role, "via": "cli"},
            )
    finally:
        await pool.close()
    print(f"user {user['id']} ({body.phone}) now has role {args.role}")
    return 0


def cmd_createadmin(config: Config, args: argparse.Namespace) -> int:
    password = os.environ.get("FLYLIVE_ADMIN_PASSWORD") or ""
    if not password:
        if not sys.stdin.isatty():
            print("set FLYLIVE_ADMIN_PASSWORD or run in a terminal to be asked", file=sys.stderr)
            return 2
        password = getpass.getpass("password for the admin: ")
    with resolved_servers(config, need_redis=False) as config:
        asyncio.run(_migrate_and_seed(config, seed=False))
        return asyncio.run(_create_admin(config, args, password))


async def _reconcile(config: Config) -> int:
    from engine.metrics import Metrics
    from engine.services import open_services

    async with open_services(config, Metrics()) as svc:
        report = await reconcile_all(svc)
    print(report.render())
    return 0 if report.ok else 1


async def reconcile_all(svc: Services) -> Report:
    """The economy's and the agencies' money invariants (engine/agency/reconcile.py, which the
    dashboard's reconcile report runs too)."""
    from engine.agency.reconcile import reconcile_all as run

    return await run(svc)


def cmd_reconcile(config: Config, args: argparse.Namespace) -> int:
    with resolved_servers(config) as config:
        asyncio.run(_migrate_and_seed(config, seed=False))
        return asyncio.run(_reconcile(ensure_jwt_secret(config)))


async def _agency_settle(config: Config, month: dt.date) -> int:
    from engine.agency.income_model import month_text
    from engine.agency.settlement import MonthNotOver, check_month_over, settle_month
    from engine.metrics import Metrics
    from engine.services import open_services

    async with open_services(config, Metrics()) as svc:
        try:
            check_month_over(svc, month)
        except MonthNotOver as exc:
            print(f"flylive: {exc.message}", file=sys.stderr)
            return 2
        outcome, run = await settle_month(svc, month)
    if outcome == "busy":
        print(f"flylive: another process is settling {month_text(month)} right now; try again later", file=sys.stderr)
        return 1
    assert run is not None
    head = f"settled {month_text(month)}"
    if outcome == "already":
        head = f"{month_text(month)} is already settled (closed {run['closed_at']:%Y-%m-%d %H:%M} UTC)"
    print(f"{head}: {run['members']} members paid ${run['usd_cents'] / 100:,.2f} in target rewards and "
          f"{run['diamonds']:,} diamonds; {run['agencies']} agencies paid ${run['agency_usd_cents'] / 100:,.2f} "
          "of agency share")  # fmt: skip
    return 0


def cmd_agency_settle(config: Config, args: argparse.Namespace) -> int:
    from engine.agency.income_model import parse_month

    month = parse_month(args.month)  # a DomainError (422) before any server starts: main prints it, exit 2
    with resolved_servers(config) as config:
        asyncio.run(_migrate_and_seed(config, seed=False))
        return asyncio.run(_agency_settle(ensure_jwt_secret(config), month))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flylive", description="FlyLive engine: realtime social-audio backend.")
    parser.add_argument("--log-format", choices=["json", "text"], help="log format (default: LOG_FORMAT or json)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the whole service (starts embedded servers when no URLs are set)")
    serve.add_argument("--host", help="listen address (default FLYLIVE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default FLYLIVE_PORT or 8080)")
    serve.add_argument("--no-seed", action="store_true", help="do not create the demo accounts")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply pending SQL migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="apply migrations and create the demo accounts").set_defaults(func=cmd_seed)
    sub.add_parser(
        "reconcile", help="drain the ledger outboxes and check every money invariant; exit 1 on any drift"
    ).set_defaults(func=cmd_reconcile)

    agency = sub.add_parser("agency", help="agency jobs run by hand").add_subparsers(
        dest="agency_command", required=True, metavar="AGENCY_COMMAND"
    )
    settle = agency.add_parser(
        "settle",
        help="settle a past business month (BUSINESS_TIMEZONE): target rewards, "
        "IECP diamonds, agency shares; idempotent and resumable",
    )
    settle.add_argument("--month", required=True, help="the business month, YYYY-MM (not the current one)")
    settle.set_defaults(func=cmd_agency_settle)

    admin = sub.add_parser(
        "createadmin",
        help="create an account (or take an existing one) and make it an admin; "
        "the password comes from FLYLIVE_ADMIN_PASSWORD or a prompt",
    )
    admin.add_argument("--phone", required=True, help="E.164 phone number, e.g. +15550001111")
    admin.add_argument("--name", default="Administrator")
    admin.add_argument("--country", default="us")
    admin.add_argument("--dob", default="1990-01-01", help="date of birth, YYYY-MM-DD")
    admin.add_argument("--role", choices=["admin", "super_admin"], default="super_admin")
    admin.set_defaults(func=cmd_createadmin)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"flylive: {exc}", file=sys.stderr)
        return 2
    overrides = {
        k: v
        for k, v in {
            "log_format": args.log_format,
            "log_level": args.log_level,
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
        }.items()
        if v is not None
    }
    config = config.with_overrides(**overrides)
    setup_logging(config.log_format, config.log_level)
    try:
        result: int = args.func(config, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from engine.errors import DomainError

        if isinstance(exc, DomainError):
            print(f"flylive: {exc.message} {exc.fields or ''}".rstrip(), file=sys.stderr)
            return 2
        raise
    return result


if __name__ == "__main__":
    sys.exit(main())
