"""The `mamori` command: serve, migrate, check, users."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mamori.boot import build_services, load_settings, validated
from mamori.checks import check_settings
from mamori.errors import ConfigError, MamoriError
from mamori.flows import operator, reset
from mamori.flows.services import Services
from mamori.identifiers import login_key
from mamori.models import Account, ClientContext
from mamori.settings import Settings
from mamori.store import migrate as migrations
from mamori.web import server

app = typer.Typer(help="Mamori: self-hosted login and account protection.", no_args_is_help=True)
users = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(users, name="users")
bans = typer.Typer(help="Manage bans on IPs, CIDRs and networks.", no_args_is_help=True)
app.add_typer(bans, name="bans")
console = Console()
err = Console(stderr=True)

CLI_CLIENT = ClientContext(ip="127.0.0.1", user_agent="mamori-cli")


def _settings() -> Settings:
    try:
        return validated(load_settings())
    except ConfigError as exc:
        for code, message in exc.problems:
            err.print(f"[red]{code}[/red]: {message}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (MAMORI_HTTP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (MAMORI_HTTP_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (MAMORI_WORKERS)")] = None,
) -> None:
    """Serve the web app and API with uvicorn."""

    settings = _settings()
    bind = host or settings.http_host
    http_port = port or settings.http_port
    n = workers or settings.workers
    os.environ["MAMORI_WORKERS"] = str(n)  # each worker sizes its hash gate by it
    console.print(
        f"Mamori on http://{bind}:{http_port}  (workers={n}, "
        f"db={settings.database_url.split('://')[0]}, dev={settings.dev})"
    )
    code = server.serve(host=bind, port=http_port, workers=n, dev=settings.dev)
    raise typer.Exit(code)


@app.command()
def migrate() -> None:
    """Apply database migrations (creates the SQLite file if needed)."""
    settings = load_settings()
    url = settings.database_url
    if settings.is_sqlite:
        from mamori.store.engine import create_engine

        asyncio.run(create_engine(url).dispose())  # creates the parent folder
    migrations.upgrade(url)
    console.print("migrations applied")


@app.command()
def check() -> None:
    """Validate settings and print problems with codes."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        for code, message in exc.problems:
            console.print(f"[red]ERROR[/red] {code}: {message}")
        raise typer.Exit(1) from None
    problems = check_settings(settings)
    for p in problems:
        console.print(
            f"[red]ERROR[/red] {p.code}: {p.message}"
            if p.fatal
            else f"[yellow]WARN[/yellow] {p.code}: {p.message}"
        )
    if any(p.fatal for p in problems):
        raise typer.Exit(1)
    console.print("settings OK")


def _run(action: Callable[[Services], Awaitable[None]]) -> None:
    async def main() -> None:
        svc = build_services(_settings())
        try:
            await action(svc)
        finally:
            await svc.store.dispose()

    try:
        asyncio.run(main())
    except MamoriError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None


def _account_table(accounts: list[Account]) -> Table:
    table = Table("id", "login_id", "email", "verified", "phone", "two-step", "created")
    for a in accounts:
        table.add_row(
            str(a.id),
            a.login_id,
            a.email,
            "yes" if a.email_verified else "no",
            (a.phone or "") + (" (verified)" if a.phone_verified else ""),
            a.two_step_mode + (", required next login" if a.two_step_forced else ""),
            a.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


@users.command("add")
def users_add(
    login_id: str,
    email: str,
    phone: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
) -> None:
    """Create an account (the password is asked for, never passed as an argument)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()

    async def go(svc: Services) -> None:
        from mamori.flows.signup import signup

        result = await signup(
            svc,
            login_id=login_id,
            email=email,
            password=password,
            phone=phone,
            language=svc.settings.default_language,
            client=CLI_CLIENT,
        )
        console.print(f"created account {result.account.id} ({result.account.login_id})")

    _run(go)


@users.command("show")
def users_show(login_id: str) -> None:
    """Show one account and its recent security events."""

    async def go(svc: Services) -> None:
        async with svc.store.begin() as tx:
            account = await tx.accounts.by_login_key(login_key(login_id))
            if account is None:
                err.print("no such account")
                raise typer.Exit(1)
            events = await tx.events.for_account(account.id, limit=20)
        console.print(_account_table([account]))
        table = Table("time", "type", "result", "reason", "ip", "country", "device")
        for e in events:
            table.add_row(
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.type,
                e.result,
                e.reason,
                e.ip,
                e.country,
                f"{e.browser} / {e.os}",
            )
        console.print(table)

    _run(go)


@users.command("list")
def users_list(
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List accounts."""

    async def go(svc: Services) -> None:
        async with svc.store.begin() as tx:
            accounts = await tx.accounts.list(limit=limit, offset=offset)
            total = await tx.accounts.count()
        console.print(_account_table(accounts))
        console.print(f"{total} accounts in all")

    _run(go)


@users.command("restrict")
def users_restrict(
    login_id: str, reason: Annotated[str, typer.Option(help="why (shown to operators)")]
) -> None:
    """Permanently restrict an account (login answers 403 until lifted); ends its sessions."""

    async def go(svc: Services) -> None:
        await operator.restrict(svc, login_id=login_id, reason=reason, actor=CLI_CLIENT, by=_who())
        console.print(f"restricted {login_id}")

    _run(go)


@users.command("unrestrict")
def users_unrestrict(login_id: str) -> None:
    """Lift a permanent restriction."""

    async def go(svc: Services) -> None:
        await operator.unrestrict(svc, login_id=login_id, actor=CLI_CLIENT, by=_who())
        console.print(f"restriction lifted for {login_id}")

    _run(go)


@users.command("require-two-step")
def users_require_two_step(
    login_id: str,
    off: Annotated[bool, typer.Option("--off", help="clear the requirement")] = False,
    reason: Annotated[str, typer.Option(help="why (shown to operators)")] = "",
) -> None:
    """Require the second step at this account's next login, from any browser."""

    async def go(svc: Services) -> None:
        await operator.require_two_step(
            svc, login_id=login_id, required=not off, reason=reason, actor=CLI_CLIENT, by=_who()
        )
        console.print(f"two-step {'no longer ' if off else ''}required for {login_id}")

    _run(go)


@users.command("force-reset")
def users_force_reset(
    login_id: str, reason: Annotated[str, typer.Option(help="why (shown to operators)")] = ""
) -> None:
    """End every session; the next login sets a new password after the second step."""

    async def go(svc: Services) -> None:
        _, ended = await reset.force_reset(
            svc, login_id=login_id, reason=reason, actor=CLI_CLIENT, by=_who()
        )
        await svc.background.drain()  # the owner's notice
        console.print(f"password reset required for {login_id} ({ended} sessions ended)")

    _run(go)


@users.command("unlock")
def users_unlock(login_id: str) -> None:
    """Lift a temporary lock on a login ID."""

    async def go(svc: Services) -> None:
        await operator.unlock(svc, login_id=login_id, actor=CLI_CLIENT, by=_who())
        console.print(f"unlocked {login_id}")

    _run(go)


@bans.command("list")
def bans_list() -> None:
    """List active bans."""

    async def go(svc: Services) -> None:
        table = Table("kind", "value", "reason", "origin", "expires", "strikes")
        for b in await operator.list_bans(svc):
            table.add_row(
                b.kind,
                b.value,
                b.reason,
                b.origin,
                b.expires_at.strftime("%Y-%m-%d %H:%M:%S") if b.expires_at else "never",
                str(b.strikes),
            )
        console.print(table)

    _run(go)


@bans.command("add")
def bans_add(
    kind: Annotated[str, typer.Argument(help="ip, cidr or network (an AS name)")],
    value: str,
    reason: Annotated[str, typer.Option()] = "operator",
    minutes: Annotated[float | None, typer.Option(help="duration; default: until removed")] = None,
) -> None:
    """Ban an IP, a CIDR or a network."""

    async def go(svc: Services) -> None:
        ban = await operator.add_ban(
            svc,
            kind=kind,
            value=value,
            reason=reason,
            seconds=minutes * 60 if minutes else None,
            actor=CLI_CLIENT,
            by=_who(),
        )
        console.print(f"banned {ban.kind} {ban.value}")

    _run(go)


@bans.command("remove")
def bans_remove(kind: str, value: str) -> None:
    """Remove a ban."""

    async def go(svc: Services) -> None:
        await operator.remove_ban(svc, kind=kind, value=value, actor=CLI_CLIENT, by=_who())
        console.print(f"removed {kind} {value}")

    _run(go)


def _who() -> str:
    return "cli:" + (os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown")


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
