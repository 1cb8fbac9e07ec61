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
from mamori.flows import incident_actions, incident_report, operator, reset
from mamori.flows import incidents as incident_flow
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
webhooks = typer.Typer(help="The outgoing security-event webhook queue.", no_args_is_help=True)
app.add_typer(webhooks, name="webhooks")
jobs = typer.Typer(help="Scheduled maintenance (run from cron, or let the server do it).")
app.add_typer(jobs, name="jobs")
incidents_cli = typer.Typer(help="Incidents opened by the detector.", no_args_is_help=True)
app.add_typer(incidents_cli, name="incidents")
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
    code = server.serve(
        host=bind, port=http_port, workers=n, dev=settings.dev, log_format=settings.log_format
    )
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


@jobs.command("run")
def jobs_run() -> None:
    """Run the periodic jobs once: dormant accounts (when enabled), the risk history window,
    expired challenges and resets, due webhook deliveries. Idempotent; safe from several hosts."""
    from datetime import timedelta

    from mamori.flows import dormant
    from mamori.flows.webhooks import deliver_all_due

    async def go(svc: Services) -> None:
        now = svc.clock.now()
        d = await dormant.run(svc, now=now)
        pruned = await svc.risk.prune(now)
        async with svc.store.begin() as tx:
            challenges = await tx.challenges.purge(before=now - timedelta(days=1))
            resets = await tx.resets.purge(before=now - timedelta(days=1))
        hooks = await deliver_all_due(svc)
        await svc.background.drain()  # the notices the dormant job issued
        console.print(
            f"dormant: {d.warned} warned, {d.suspended} suspended; risk history: {pruned} "
            f"logins aged out; purged {challenges} challenges, {resets} resets; webhooks: "
            f"{hooks.delivered} delivered"
        )

    _run(go)


@webhooks.command("deliver")
def webhooks_deliver() -> None:
    """Send every due webhook delivery once (for cron; the server also does it on its own)."""
    from mamori.flows.webhooks import deliver_all_due, pending_count

    async def go(svc: Services) -> None:
        r = await deliver_all_due(svc)
        console.print(
            f"{r.claimed} due: {r.delivered} delivered, {r.retried} to retry, {r.dead} given up; "
            f"{await pending_count(svc)} pending"
        )

    _run(go)


@webhooks.command("list")
def webhooks_list(
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or dead (default: all)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
) -> None:
    """List webhook deliveries, newest first (the target URL is not shown: it may hold a token)."""
    from urllib.parse import urlsplit

    from mamori.store.webhooks import STATUSES

    if status is not None and status not in STATUSES:
        err.print(f"status must be one of {', '.join(STATUSES)}")
        raise typer.Exit(2)

    async def go(svc: Services) -> None:
        async with svc.store.begin() as tx:
            items = await tx.webhooks.list(status=status, limit=limit)
        table = Table("id", "event", "type", "host", "status", "attempts", "next", "last error")
        for d in items:
            table.add_row(
                str(d.id),
                str(d.event_id or ""),
                d.event_type,
                urlsplit(d.url).hostname or "",
                d.status,
                str(d.attempts),
                d.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if d.status == "pending" else "",
                d.last_error,
            )
        console.print(table)

    _run(go)


@webhooks.command("retry")
def webhooks_retry(delivery_id: int) -> None:
    """Give a dead delivery a fresh set of attempts, due now."""

    async def go(svc: Services) -> None:
        async with svc.store.begin() as tx:
            ok = await tx.webhooks.retry(delivery_id, now=svc.clock.now())
        if not ok:
            err.print(f"no undelivered webhook delivery {delivery_id}")
            raise typer.Exit(1)
        console.print(f"delivery {delivery_id} will be retried")

    _run(go)


@incidents_cli.command("list")
def incidents_list() -> None:
    """List incidents, newest first."""

    async def go(svc: Services) -> None:
        table = Table("id", "status", "opened", "closed", "detection")
        for i in await incident_flow.list_incidents(svc, limit=100):
            table.add_row(
                str(i.id),
                i.status,
                i.opened_at.strftime("%Y-%m-%d %H:%M:%S"),
                i.closed_at.strftime("%Y-%m-%d %H:%M:%S") if i.closed_at else "",
                "; ".join(str(r) for r in i.summary.get("reasons", []))[:80],
            )
        console.print(table)

    _run(go)


@incidents_cli.command("show")
def incidents_show(incident_id: int) -> None:
    """An incident: period, volumes, sources, the two lists, actions."""

    async def go(svc: Services) -> None:
        a = await incident_flow.analyze(svc, incident_id)
        data = incident_report.to_json(a)
        console.print(
            f"incident {a.incident.id} ({a.incident.status}): {data['since']} .. {data['until']}"
        )
        console.print("volumes: " + ", ".join(f"{k} {v}" for k, v in data["volumes"].items()))
        sources = Table("kind", "source", "why", "attempts", "failures")
        for s in incident_report.top_sources(a):
            sources.add_row(s.kind, s.value, s.why, str(s.attempts), str(s.failures))
        console.print(sources)
        affected = Table("account", "login_id", "country", "logged in", "evidence", "ip")
        for x in a.confirmed:
            affected.add_row(
                str(x.account_id),
                x.login_id,
                x.country,
                "yes" if x.logged_in else "no",
                " ".join(x.evidence),
                x.ip,
            )
        console.print(affected)
        console.print(
            f"password confirmed: {len(a.confirmed)}; logged in: {len(a.logged_in)}; "
            + ", ".join(f"{c} {n}" for c, n in a.by_country())
        )
        for act in a.actions:
            console.print(
                f"action {act.id} {act.kind} by {act.actor}: {act.done}/{act.total} ({act.status})"
            )

    _run(go)


@incidents_cli.command("report")
def incidents_report(
    incident_id: int,
    format: Annotated[str, typer.Option("--format", help="md or csv")] = "md",
    out: Annotated[str | None, typer.Option("--out", help="write to this file")] = None,
) -> None:
    """The incident report as Markdown or CSV."""
    if format not in ("md", "csv"):
        err.print("[red]invalid_format[/red]: --format must be md or csv")
        raise typer.Exit(2)

    texts: list[str] = []

    async def go(svc: Services) -> None:
        a = await incident_flow.analyze(svc, incident_id)
        write = incident_report.csv_text if format == "csv" else incident_report.markdown
        texts.append(write(a))

    _run(go)
    if out:
        with open(out, "w", encoding="utf-8", newline="") as f:
            f.write(texts[0])
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(texts[0])


@incidents_cli.command("respond")
def incidents_respond(
    incident_id: int,
    action: Annotated[str, typer.Option("--action", help="block, reset or notify")],
    reason: Annotated[str, typer.Option(help="why (audit log)")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Preview a response with counts, then run it (resumes an interrupted one)."""

    async def go(svc: Services) -> None:
        p = await incident_actions.preview(svc, incident_id, action)
        console.print(
            f"{p.kind}: {p.targets} targets, {p.already_done} already done, "
            f"{p.to_do} to do, {p.resumable} to resume"
        )
        if not p.to_do and not p.resumable:
            console.print("nothing to do")
            return
        if not yes and not typer.confirm("run it?", default=False):
            raise typer.Exit(1)
        outcome = await incident_actions.respond(
            svc, incident_id, action, actor=_who(), reason=reason
        )
        await svc.background.drain()  # the notices
        console.print(
            f"{outcome.kind}: {outcome.done} done ({outcome.skipped} skipped, "
            f"{outcome.resumed} resumed)"
        )

    _run(go)


# -- operators of the console (`mamori admin ...`) ---------------------------------------------

admin = typer.Typer(help="Console operators and API tokens.", no_args_is_help=True)
app.add_typer(admin, name="admin")
admin_tokens = typer.Typer(help="API tokens for /api/v1/admin.", no_args_is_help=True)
admin.add_typer(admin_tokens, name="token")


@admin.command("create")
def admin_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin (everything) or analyst (read-only)")] = "admin",
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
) -> None:
    """Create a console operator; prints its authenticator (TOTP) key once."""
    from mamori.flows import operators

    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()

    async def go(svc: Services) -> None:
        new = await operators.create_operator(
            svc, name=name, password=password, role=role, by=_who()
        )
        console.print(f"created operator {new.operator.name} ({new.operator.role})")
        # plain echo: never wrapped, so the key and the URI can be copied whole
        typer.echo("Add this key to an authenticator app now; it is not shown again.")
        typer.echo(f"TOTP secret: {new.totp_secret}")
        typer.echo(f"otpauth URI: {new.totp_uri}")
        if sys.stdout.isatty():
            import segno

            segno.make(new.totp_uri, error="m").terminal(compact=True)

    _run(go)


@admin.command("list")
def admin_list() -> None:
    """List console operators."""
    from mamori.flows import operators

    async def go(svc: Services) -> None:
        table = Table("name", "role", "created", "status")
        for o in await operators.list_operators(svc):
            table.add_row(
                o.name,
                o.role,
                o.created_at.strftime("%Y-%m-%d %H:%M"),
                "active" if o.active else f"disabled {o.disabled_at:%Y-%m-%d %H:%M}",
            )
        console.print(table)

    _run(go)


@admin.command("disable")
def admin_disable(name: str) -> None:
    """Disable an operator (its console sessions end)."""
    from mamori.flows import operators

    async def go(svc: Services) -> None:
        ended = await operators.disable_operator(svc, name=name, by=_who())
        console.print(f"disabled {name} ({ended} sessions ended)")

    _run(go)


@admin_tokens.command("create")
def admin_token_create(
    name: str, scopes: Annotated[str, typer.Option(help="read, write or read,write")] = "read"
) -> None:
    """Create an API token; it is printed once (only its hash is kept)."""
    from mamori.flows import operator_tokens

    async def go(svc: Services) -> None:
        token, record = await operator_tokens.create_token(
            svc, name=name, scopes=operator_tokens.parse_scopes(scopes), by=_who()
        )
        console.print(f"created token {record.name} (scopes: {','.join(record.scopes)})")
        typer.echo("Store it now; it is not shown again.")
        typer.echo(f"token: {token}")

    _run(go)


@admin_tokens.command("revoke")
def admin_token_revoke(
    name: str, reason: Annotated[str, typer.Option(help="why (audit log)")] = ""
) -> None:
    """Revoke an API token (at once, in every process)."""
    from mamori.flows import operator_tokens

    async def go(svc: Services) -> None:
        await operator_tokens.revoke_token(svc, name=name, by=_who(), reason=reason)
        console.print(f"revoked token {name}")

    _run(go)


@admin_tokens.command("list")
def admin_token_list() -> None:
    """List API tokens (never the tokens themselves)."""
    from mamori.flows import operator_tokens

    async def go(svc: Services) -> None:
        table = Table("name", "scopes", "created", "status")
        for tok in await operator_tokens.list_tokens(svc):
            table.add_row(
                tok.name,
                ",".join(tok.scopes),
                tok.created_at.strftime("%Y-%m-%d %H:%M"),
                "active" if tok.active else f"revoked {tok.revoked_at:%Y-%m-%d %H:%M}",
            )
        console.print(table)

    _run(go)


@app.command("analyze")
def analyze_cmd(
    file: Annotated[str, typer.Argument(help="login log: CSV or JSON lines, optionally gzipped")],
    format: Annotated[str, typer.Option(help="auto, rba or mamori")] = "auto",
    out: Annotated[str | None, typer.Option(help="report.md (+ CSVs beside it)")] = None,
    bucket_seconds: Annotated[
        float | None, typer.Option(help="detector bucket (MAMORI_DETECTOR_BUCKET_SECONDS)")
    ] = None,
    memory_limit: Annotated[str, typer.Option(help="DuckDB's memory limit")] = "512MB",
    threads: Annotated[int, typer.Option(help="DuckDB threads; 0: the CPUs")] = 0,
    risk: Annotated[bool, typer.Option(help="score the logins the report needs")] = True,
    export: Annotated[str | None, typer.Option(help="also write the logins in our format")] = None,
) -> None:
    """Offline analysis of a login log with the service's detectors and risk scorer (see
    docs/analyze.md): the incident report, and precision/recall when the file has labels."""
    from dataclasses import replace
    from pathlib import Path

    from mamori.analyze import report
    from mamori.analyze.console import RichProgress, summary
    from mamori.analyze.run import Options, analyze
    from mamori.analyze.run import export as export_rows
    from mamori.flows.defense import policy_from
    from mamori.risk.policy import RiskPolicy

    if format not in ("auto", "rba", "mamori"):
        err.print("[red]--format[/red] must be auto, rba or mamori")
        raise typer.Exit(2)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        for code, message in exc.problems:
            err.print(f"[red]{code}[/red]: {message}")
        raise typer.Exit(2) from None
    policy = policy_from(settings)
    if bucket_seconds is not None:
        if bucket_seconds <= 0:
            err.print("[red]--bucket-seconds[/red] must be positive")
            raise typer.Exit(2)
        policy = replace(policy, bucket_seconds=bucket_seconds)
    options = Options(
        format=format,
        policy=policy,
        risk_policy=RiskPolicy(
            medium_threshold=settings.risk_medium_threshold,
            high_threshold=settings.risk_high_threshold,
            deny_threshold=settings.risk_deny_threshold,
        ),
        risk=risk,
        memory_limit=memory_limit,
        threads=threads,
    )
    shown = console if out else err  # without --out the report itself goes to stdout
    try:
        with RichProgress(err) as progress:
            result = analyze(Path(file), options, progress=progress)
        if export:
            n = export_rows(Path(file), Path(export), format=format, memory_limit=memory_limit)
            shown.print(f"wrote {n:,} logins in our format to {export}")
    except MamoriError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    rate = result.loaded.rows / result.elapsed if result.elapsed > 0 else 0.0
    summary(result, shown)
    if out:
        for path in report.write(result, Path(out), rows_per_second=rate):
            console.print(f"wrote {path}")
    else:
        sys.stdout.write(report.markdown(result, rows_per_second=rate))


@app.command("simulate")
def simulate_cmd(
    scenario: Annotated[
        str, typer.Argument(help="a scenario or suite TOML file, or a shipped one: default, smoke")
    ],
    out: Annotated[str, typer.Option(help="report directory (report.md, results.json, PNGs)")] = (
        "var/simulation"
    ),
    target: Annotated[
        str | None,
        typer.Option(help="a running server's URL; without it a fresh Mamori is started"),
    ] = None,
    kind: Annotated[str, typer.Option(help="the target: mamori or peer")] = "mamori",
    admin_token: Annotated[
        str, typer.Option(help="operator token of --target (detection and block times)")
    ] = "",
    workdir: Annotated[
        str | None, typer.Option(help="where started servers keep their databases and logs")
    ] = None,
    env: Annotated[
        bool, typer.Option("--env", help="print the MAMORI_* settings --target needs, and exit")
    ] = False,
    write_users: Annotated[
        str | None, typer.Option(help="write the population as the peer's users file, and exit")
    ] = None,
) -> None:
    """Drive legitimate users and attack campaigns against Mamori over HTTP and report what
    happened (see docs/simulate.md)."""
    from pathlib import Path

    from mamori.simulate import session
    from mamori.simulate.scenario import ScenarioError, Suite, load, scenarios_of
    from mamori.simulate.server import compressed_env

    try:
        loaded = load(scenario)
    except ScenarioError as exc:
        err.print(f"[red]scenario[/red]: {exc}")
        raise typer.Exit(2) from None
    first = scenarios_of(loaded)[0]
    if env:
        variables, notes = compressed_env(first.run.compress)
        variables |= {
            "MAMORI_DEV": "1",
            "MAMORI_TRUSTED_PROXIES": "127.0.0.1/32",
            "MAMORI_OPERATOR_TOKEN": "<at least 32 characters; pass it as --admin-token>",
        }
        for name, value in variables.items():
            console.print(f"{name}={value}", highlight=False, soft_wrap=True)
        for note in notes:
            err.print(f"# not compressed: {note}", highlight=False)
        return
    if write_users:
        from mamori.simulate.networks import load_catalog
        from mamori.simulate.population import generate
        from mamori.simulate.seed import peer_users

        population = generate(first.population, load_catalog())
        text, _ = peer_users(population, seed=first.population.seed)
        Path(write_users).write_text(text, encoding="utf-8")
        console.print(f"wrote {len(population.users)} users to {write_users}")
        return
    if kind not in ("mamori", "peer"):
        err.print("[red]--kind[/red] must be mamori or peer")
        raise typer.Exit(2)

    def log(message: str) -> None:
        err.print(message, highlight=False)

    if target is None:
        if kind != "mamori":
            err.print("[red]--kind peer[/red] needs --target (bench/simulate_compare.py starts it)")
            raise typer.Exit(2)
        results, path = asyncio.run(
            session.run_managed(
                loaded, Path(out), workdir=Path(workdir) if workdir else None, log=log
            )
        )
    else:
        if isinstance(loaded, Suite):
            err.print("[red]a suite[/red] runs against servers the simulator starts; drop --target")
            raise typer.Exit(2)
        try:
            result = asyncio.run(
                session.run_against(
                    loaded, base_url=target, kind=kind, admin_token=admin_token, log=log
                )
            )
        except RuntimeError as exc:
            err.print(f"[red]error[/red]: {exc}")
            raise typer.Exit(1) from None
        results = [result]
        path = session.write(loaded, results, Path(out))
    console.print(f"wrote {path}")
    missed = [
        g
        for r in results
        for g in (r.outcomes.goals if r.outcomes else ())
        if g.met is False
    ]
    console.print(f"{len(missed)} goals missed" if missed else "every applicable goal met")


def _who() -> str:
    return "cli:" + (os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown")


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
