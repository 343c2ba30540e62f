"""The `arrears` command: the local runtime's demo, policy tools and sample events."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arrears_local.audit_cli import audit_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Arrears: serverless B2B collections. Local tools.")
policy_app = typer.Typer(no_args_is_help=True, help="Validate and publish collections policies.")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
# A pipe or CI log gets a wide table rather than rich's 80-column default.
console = Console() if sys.stdout.isatty() else Console(width=160)


@app.command()
def demo(
    out: Path = typer.Option(Path("out"), help="Where emails, letters, referral packages and the audit log are written."),
    invoices: int = typer.Option(24, min=1, max=2000, help="How many sample invoices."),
    days: int = typer.Option(150, min=1, max=400, help="Virtual days to run."),
) -> None:
    """Run a sample book of invoices through the whole collections lifecycle, locally."""
    from arrears.domain.policy import load_policy_file
    from arrears_local.demo import (DEMO_PORTAL_URL, demo_replies, export_outputs, letters, letters_table, portal_line,
                                    run_book, timeline_table)
    from arrears_local.portfolio import DEMO_START, sample_portfolio
    from arrears_local.runtime import LocalRuntime, project_root

    started = time.monotonic()
    portfolio = sample_portfolio(DEMO_START, invoices)
    policy = load_policy_file(project_root() / "policies" / "default.yaml")
    console.print(f"[bold]Arrears local demo[/]: {len(portfolio)} invoices, {days} virtual days from {DEMO_START:%d %b %Y}, "
                  f"policy {policy.policy_id} v{policy.version}")
    with LocalRuntime(start=DEMO_START, parameters={"PortalPublicUrl": DEMO_PORTAL_URL}) as runtime:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task("collections running", total=days)
            run = run_book(runtime, portfolio, policy, days,
                           on_progress=lambda now: progress.update(task, completed=min(days, (now - DEMO_START).total_seconds() / 86400)),
                           also=demo_replies(runtime, portfolio))
            progress.update(task, completed=days)
        counts = export_outputs(runtime, run, out)
        sent = len(runtime.sent_emails())
        portal = portal_line(runtime, portfolio)

    console.print(timeline_table(run))
    console.print(letters_table(letters(run), out))
    rejected = [d for d in run.deliveries if d.status_code != 200]
    console.print(f"Webhook deliveries: {len(run.deliveries)} ({len(rejected)} rejected, redeliveries answered without a second effect).")
    console.print(f"Written to [bold]{out}/[/]: {counts['emails']} emails (.eml), {counts['letters']} letters (PDF), "
                  f"{counts['referrals']} referral packages, {counts['replies']} debtor replies (.eml), {counts['audit']} audit log "
                  "files, timeline.json, deliveries.json.")
    console.print(f"SES accepted {sent} messages.")
    console.print(portal, markup=False)
    console.print(f"Done in {time.monotonic() - started:.1f} s of wall time.")
    if rejected:
        console.print(f"[red]{len(rejected)} deliveries were rejected:[/] {rejected[:3]}")
        raise typer.Exit(1)


@app.command()
def simulate(
    policy_path: Path = typer.Option(Path("policies/default.yaml"), "--policy", exists=True, dir_okay=False,
                                     help="The policy version to try."),
    book_path: Optional[Path] = typer.Option(None, "--book", exists=True, dir_okay=False,
                                             help="Invoices as CSV or JSON Lines (see arrears_local/book.py)."),
    sample_book: int = typer.Option(0, min=0, max=1_000_000, help="Instead of --book: a synthetic book of this many invoices."),
    sample_payments: Optional[int] = typer.Option(None, help="Seed: draw payment dates for invoices without paid_at."),
    days: int = typer.Option(150, min=1, max=1000, help="Days to simulate from the first issue date."),
    contacts_csv: Optional[Path] = typer.Option(None, "--contacts", help="Write every contact it would send here (CSV)."),
    render: bool = typer.Option(False, "--render/--plan-only",
                                help="Render every email and letter too (slower); plan-only still runs every check a contact makes."),
    workers: int = typer.Option(1, min=1, max=64, help="Processes: the book is sharded by customer (same figures and "
                                                        "contacts as one process)."),
) -> None:
    """What a policy would do to a book: every contact and when, totals per stage, referrals. Sends nothing."""
    from datetime import timedelta

    from arrears.domain.policy import load_policy_file
    from arrears.usecases.simulation_shards import SimulationSummary, shard_count, split_by_customer
    from arrears.usecases.simulator import Simulation
    from arrears_local.book import BookError, book_updates, read_book, sample_payments as draw_payments, synthetic_book
    from arrears_local.gctune import tuned_gc
    from arrears_local.portfolio import DEMO_START

    if (book_path is None) == (sample_book == 0):
        console.print("[red]give either --book FILE or --sample-book N[/]")
        raise typer.Exit(2)
    try:
        policy = load_policy_file(policy_path)
        book = read_book(book_path) if book_path else synthetic_book(sample_book, DEMO_START)
    except (BookError, ValueError) as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    if sample_payments is not None:
        book = draw_payments(book, sample_payments)
    if not book:
        console.print("[red]the book is empty[/]")
        raise typer.Exit(1)
    started = time.monotonic()
    start = min(item.invoice.issued_at for item in book)
    end = start + timedelta(days=days)
    with_contacts = contacts_csv is not None
    if workers > 1:
        from arrears_local.shards import simulate_in_workers

        # Shards by customer, simulated in `workers` processes (no live progress bar: workers are forked).
        shards = split_by_customer(book_updates(book), shard_count(len(book), workers))
        summary = simulate_in_workers(policy, shards, end, workers, render=render, with_contacts=with_contacts,
                                      done=lambda n: console.print(f"shard {n}/{len(shards)} done"))
    else:
        simulation = Simulation(policy, render=render)
        simulation.add_updates(book_updates(book))
        # A large book keeps millions of objects alive for the whole run: the GC tuned for it (see gctune).
        with tuned_gc(), Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
                                  TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("simulating", total=days)
            for day in range(1, days + 1):
                simulation.advance(min(end, start + timedelta(days=day)))
                progress.update(task, completed=day)
        summary = SimulationSummary.of(simulation.result(), with_contacts=with_contacts)
    _print_simulation(summary, book, policy, days, end, started)
    if contacts_csv:
        _write_contacts(summary, contacts_csv)


def _print_simulation(summary, book, policy, days: int, end, started: float) -> None:
    """The simulation's totals per stage, what was sent, waited and could not be made (a SimulationSummary)."""
    from arrears.domain.policy import Stage

    table = Table(title=f"{len(book)} invoices, {days} days, policy {policy.policy_id} v{policy.version}")
    table.add_column("Stage")
    table.add_column("Contacts", justify="right")
    totals = summary.stage_totals
    for stage in Stage:
        if stage.value in totals:
            table.add_row(stage.value, str(totals[stage.value]))
    console.print(table)
    paid = sum(1 for item in book if item.paid_at is not None and item.paid_at <= end)
    console.print(f"{summary.contacts} contacts ({summary.debtor_emails} emails to debtors; {summary.agency_emails} to the collection "
                  f"agency), {len(summary.referred)} invoices referred, "
                  f"{paid} paid within the period. {time.monotonic() - started:.1f} s.")
    if summary.deferred:
        console.print(f"{summary.deferred} messages waited for the policy's {policy.minimum_contact_gap_days}-day gap between "
                      f"messages to one customer ({summary.superseded} of them overtaken by the invoice's next step).")
    if summary.blocked:
        console.print(f"[yellow]{sum(summary.blocked.values())} contacts could not be made[/] (a task would open for each): "
                      + "; ".join(f"{count} × {reason}" for reason, count in
                                  sorted(summary.blocked.items(), key=lambda pair: (-pair[1], pair[0]))[:3]))


def _write_contacts(summary, path: Path) -> None:
    import csv

    from arrears.usecases.simulation_shards import CONTACT_COLUMNS

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        # covered_by: the invoice whose message did this step (one message per customer), empty when its own did
        writer.writerow(CONTACT_COLUMNS)
        writer.writerows(row for _, row in summary.contact_rows)
    console.print(f"contacts written to {path}")


@app.command("dry-run")
def dry_run_command(
    table: str = typer.Option(..., help="The stack's table (output TableName of `sam deploy`); read only."),
    policy_path: Optional[Path] = typer.Option(None, "--policy", exists=True, dir_okay=False,
                                               help="A draft policy file (default: the current published version)."),
    policy_id: str = typer.Option("default", help="The published policy to try when no --policy file is given."),
    version: Optional[int] = typer.Option(None, min=1, help="A published version (default: the current one)."),
    invoice_id: Optional[str] = typer.Option(None, "--invoice", help="One invoice (default: every open receivable)."),
    contacts_csv: Optional[Path] = typer.Option(None, "--contacts", help="Write every contact it would make here (CSV)."),
) -> None:
    """What a policy version or draft would do to the live open invoices of a deployed stack from where each
    invoice's collection is, and what that changes against its current plan; held and insolvent invoices are
    left out. Reads the table (your AWS credentials); sends and stores nothing."""
    import csv

    from arrears.domain.clock import SystemClock
    from arrears.usecases.finance.api import FinanceApi
    from arrears.usecases.finance.schemas import DryRunRequest
    from arrears.domain.holds import ActionRefused
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.dynamo_policies import DynamoPolicyRepository

    source = policy_path.read_text(encoding="utf-8") if policy_path else None
    if source is not None:
        from arrears.domain.policy import parse_policy_yaml

        try:
            policy_id = parse_policy_yaml(source).policy_id
        except Exception:  # noqa: BLE001 - the dry run below refuses the draft with the reason
            pass
    # The finance API's own use case, read-only: no workflows, mail or artefacts are touched.
    finance = FinanceApi(store=DynamoStore(table), policies=DynamoPolicyRepository(table), workflows=None, escalation=None,
                         artefacts=None, clock=SystemClock())
    try:
        result = finance.dry_run(policy_id, DryRunRequest(source=source, version=version if source is None else None,
                                                          invoice_id=invoice_id))
    except ActionRefused as refused:
        console.print(f"[red]{refused.code}: {refused}[/]")
        raise typer.Exit(1) from None
    table_view = Table(title=f"{result.invoices_simulated} open invoices, policy {result.policy_id} "
                             f"{'draft' if result.version is None else f'v{result.version}'} (nothing sent)")
    table_view.add_column("Stage")
    table_view.add_column("Contacts", justify="right")
    for stage, count in sorted(result.contacts_by_stage.items()):
        table_view.add_row(stage, str(count))
    console.print(table_view)
    contacts = [(invoice.invoice_id, contact) for invoice in result.invoices for contact in invoice.contacts]
    console.print(f"{len(contacts)} contacts over {len(result.invoices)} invoices, from where each invoice's collection is.")
    changed = [invoice for invoice in result.invoices if invoice.changes]
    if changed:
        changes = Table(title="What changes against each invoice's current plan")
        for column in ("Invoice", "Change", "Step", "Now planned", "Would be"):
            changes.add_column(column)
        when = lambda at: f"{at:%d %b %Y %H:%M}" if at else "—"  # noqa: E731
        for invoice in changed:
            for change in invoice.changes:
                changes.add_row(invoice.invoice_id, change.change, change.step_id, when(change.was_at), when(change.at))
        console.print(changes)
    else:
        console.print("No invoice's plan changes.")
    for left in result.left_out:
        console.print(f"[yellow]left out[/] {left.invoice_id}: {left.reason}")
    if contacts_csv:
        with contacts_csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["at", "invoice_id", "step_id", "stage", "kind", "channel"])
            for invoice_id_, contact in sorted(contacts, key=lambda pair: (pair[1].at, pair[0])):
                writer.writerow([contact.at.isoformat(), invoice_id_, contact.step_id, contact.stage, contact.kind, contact.channel])
        console.print(f"contacts written to {contacts_csv}")


@policy_app.command("validate")
def policy_validate(paths: list[Path] = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Check policy files; exits non-zero and says what is wrong."""
    from pydantic import ValidationError

    from arrears.domain.policy import load_policy_file

    failed = False
    for path in paths:
        try:
            policy = load_policy_file(path)
        except (ValidationError, ValueError) as error:
            failed = True
            console.print(f"[red]✗ {path}[/]\n{error}")
        else:
            steps = sum(len(segment.steps) for segment in policy.segments.values())
            console.print(f"[green]✓ {path}[/]: {policy.policy_id} v{policy.version}, {len(policy.segments)} segment(s), {steps} steps")
    if failed:
        raise typer.Exit(1)


@policy_app.command("publish")
def policy_publish(
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    table: str = typer.Option(..., help="The stack's table (output TableName of `sam deploy`)."),
) -> None:
    """Publish a policy version to a deployed stack's table (uses your AWS credentials)."""
    from arrears.domain.policy import load_policy_file
    from arrears.adapters.dynamo_policies import DynamoPolicyRepository, PolicyConflict

    policy = load_policy_file(path)
    try:
        created = DynamoPolicyRepository(table).publish(policy, path.read_text(encoding="utf-8"))
    except PolicyConflict as conflict:
        console.print(f"[red]{conflict}[/]")
        raise typer.Exit(1) from None
    console.print(f"{policy.policy_id} v{policy.version} {'published' if created else 'was already published'}; it is now current.")


@policy_app.command("document")
def policy_document_command(
    path: Path = typer.Argument(Path("policies/default.yaml"), exists=True, dir_okay=False),
    audience: str = typer.Option("customer", help="customer (to attach to contracts) or staff (every step and rule)."),
    language: str = typer.Option("en", help="en, de or fr."),
    format: str = typer.Option("pdf", "--format", help="pdf or html."),
    segment: Optional[str] = typer.Option(None, help="The customer version's reminders: this segment's (default: the policy's)."),
    out: Optional[Path] = typer.Option(None, help="Where to write it (default: policy-<id>-v<n>-<audience>-<language>.<format>)."),
) -> None:
    """The readable collections policy, made from a policy file (docs/payment-history.md)."""
    from arrears.domain.policy import load_policy_file
    from arrears.rendering.policy_document import policy_document, render_html, render_pdf

    if audience not in ("customer", "staff") or format not in ("pdf", "html"):
        console.print("[red]--audience is customer or staff; --format is pdf or html[/]")
        raise typer.Exit(2)
    policy = load_policy_file(path)
    try:
        document = policy_document(policy, audience, language, segment)  # type: ignore[arg-type]
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    body = render_pdf(document) if format == "pdf" else render_html(document)
    target = out or Path(f"policy-{policy.policy_id}-v{policy.version}-{audience}-{language}.{format}")
    target.write_bytes(body)
    console.print(f"{target}: {policy.policy_id} v{policy.version}, {audience}, {language} ({len(body)} bytes)")


@app.command("import")
def import_invoices(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .csv, .json (array) or .jsonl file of invoices."),
    table: Optional[str] = typer.Option(None, help="The stack's table (output TableName of `sam deploy`)."),
    state_machine: Optional[str] = typer.Option(None, "--state-machine",
                                                help="The dunning state machine's ARN (output StateMachineArn)."),
    url: Optional[str] = typer.Option(None, help="Instead of a stack: a running `arrears serve`, e.g. http://127.0.0.1:8000."),
    check: bool = typer.Option(False, help="Only check the file (no AWS, no server); write nothing."),
) -> None:
    """Import invoices in bulk for a billing system without webhooks (docs/webhooks.md); re-importing changes nothing."""
    from datetime import datetime, timezone

    from arrears.ingestion.bulk_import import ImportFileError, apply_import, plan_import, read_records

    now = datetime.now(timezone.utc)
    data = path.read_bytes()
    try:
        plan = plan_import(read_records(data, path.name), now)
    except ImportFileError as error:
        console.print(f"[red]✗ {escape(str(error))}[/]")
        raise typer.Exit(2) from None
    if not plan.valid:
        _print_import_problems(path, [str(problem) for problem in plan.problems], len({p.row for p in plan.problems}))
        raise typer.Exit(1)
    if check:
        console.print(f"[green]✓ {escape(str(path))}[/]: {len(plan.updates)} invoice(s), no problems")
        return
    if url is not None:
        if table or state_machine:
            console.print("[red]give either --url (a running arrears serve) or --table and --state-machine (a stack)[/]")
            raise typer.Exit(2)
        _import_into_serve(path, data, url)
        return
    if not table or not state_machine:
        console.print("[red]give --table and --state-machine (a deployed stack), or --url (a running arrears serve); "
                      "--check needs neither[/]")
        raise typer.Exit(2)
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.step_functions import StepFunctionsWorkflows

    store = DynamoStore(table)
    with Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("import", total=len(plan.updates))
        outcomes = apply_import(plan, store, store, StepFunctionsWorkflows(state_machine), now,
                                on_progress=lambda done: progress.update(task, completed=done))
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    console.print(f"[green]✓ {len(plan.updates)} invoice(s) imported[/]: {summary}")


def _print_import_problems(path: Path, problems: list[str], rows: int) -> None:
    console.print(f"[red]✗ {escape(str(path))}: {rows} row(s) with problems; nothing was imported.[/]")
    for problem in problems:
        console.print(f"  {escape(problem)}", highlight=False)


def _import_into_serve(path: Path, data: bytes, url: str) -> None:
    """POST the file to serve's /_local/import: the same checks and import, inside the server, at its clock."""
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    request = urllib.request.Request(f"{url.rstrip('/')}/_local/import?name={quote(path.name)}", data=data, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as refused:
        try:
            answer = json.loads(refused.read() or b"{}")
        except ValueError:
            answer = {}
        if answer.get("error") == "invalid_rows":
            problems = [f"row {p['row']}: {p['field']}: {p['message']}" for p in answer.get("problems", [])]
            _print_import_problems(path, problems, len({p["row"] for p in answer.get("problems", [])}))
            raise typer.Exit(1) from None
        console.print(f"[red]✗ {escape(url)} refused the import ({refused.code}):[/] "
                      f"{escape(str(answer.get('message') or answer.get('error') or refused.reason))}")
        raise typer.Exit(1) from None
    except (urllib.error.URLError, OSError, ValueError) as unreachable:
        console.print(f"[red]✗ no arrears serve at {escape(url)}:[/] {escape(str(unreachable))}")
        raise typer.Exit(2) from None
    summary = ", ".join(f"{count} {outcome}" for outcome, count in answer.get("outcomes", {}).items())
    console.print(f"[green]✓ {answer.get('imported', 0)} invoice(s) imported into {escape(url)}[/]: {summary}")


@app.command()
def events(check: bool = typer.Option(False, help="Only check that events/ is up to date.")) -> None:
    """Write the sample events in events/ (one realistic payload per trigger)."""
    from arrears_local.samples import write_sample_events

    stale = write_sample_events(check=check)
    if check and stale:
        console.print(f"[red]stale sample events:[/] {', '.join(stale)} (run `arrears events`)")
        raise typer.Exit(1)
    console.print("sample events " + ("up to date" if check else "written"))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep it local: nothing is authenticated)."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port (0: any free one)."),
    clock: str = typer.Option("virtual", help="virtual: time moves only by POST /_local/clock/advance; real: wall time, from now."),
    start: Optional[str] = typer.Option(None, help="Virtual start moment, ISO 8601 (default: now, or 1 Sep 2026 with --sample-book)."),
    sample_book: int = typer.Option(0, min=0, max=2000,
                                    help="Schedule the demo's sample invoices' webhook deliveries (they arrive as the clock moves)."),
    principal: str = typer.Option("", help="IAM principal the finance API records as the caller (default: a local user)."),
    quiet: bool = typer.Option(False, help="Do not log each request."),
) -> None:
    """Serve the webhook and finance API routes of template.yaml on local HTTP, on the local runtime."""
    from arrears.domain.policy import load_policy_file
    from arrears_local.demo import schedule_deliveries
    from arrears_local.portfolio import sample_portfolio
    from arrears_local.runtime import LOCAL_PRINCIPAL, LocalRuntime, project_root
    from arrears_local.serve import LocalServer, make_http_server, start_moment

    if clock not in ("virtual", "real"):
        raise typer.BadParameter("--clock is virtual or real")
    try:
        begin = start_moment(clock, start, sample_book)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    # The emails and letters it sends carry portal links to this server (port 0: not known yet, no links).
    portal = {"PortalPublicUrl": f"http://{host}:{port}"} if port else {}
    with LocalRuntime(start=begin, parameters=portal) as runtime:
        scheduled = []
        if sample_book:
            policy = load_policy_file(project_root() / "policies" / "default.yaml")
            scheduled, _ = schedule_deliveries(runtime, sample_portfolio(begin, sample_book), policy, [])
        server = LocalServer(runtime, clock=clock, principal=principal or LOCAL_PRINCIPAL, scheduled=scheduled)
        httpd = make_http_server(server, host, port, log_requests=not quiet)
        base = f"http://{host}:{httpd.server_port}"
        console.print(f"[bold]Arrears local API[/] on {base} (clock {clock}, now {runtime.now():%Y-%m-%d %H:%M} UTC)")
        console.print(f"  webhooks:  POST {base}/webhooks/stripe   finance API: {base}/invoices   OpenAPI: {base}/openapi.json")
        console.print(f"  clock:     GET {base}/_local/clock   POST {base}/_local/clock/advance  {{\"days\": 7}}")
        console.print(f"  emails:    GET {base}/_local/emails   SES events: POST {base}/_local/ses-events", markup=False)
        console.print(f"  import:    arrears import FILE --url {base}", markup=False)
        console.print(f"  portal:    {base}/portal/<token> (the link each email and letter carries; docs/portal.md)", markup=False)
        if scheduled:
            console.print(f"  {len(scheduled)} sample webhook deliveries arrive as the clock reaches them.")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            console.print("stopped")
        finally:
            httpd.server_close()


@app.command()
def openapi(
    check: bool = typer.Option(False, help="Only check that openapi/finance.json and openapi/webhooks.json are up to date."),
) -> None:
    """Write the OpenAPI documents: the finance API's (openapi/finance.json) from its routes, the webhooks'
    (openapi/webhooks.json) from the providers' parsing models."""
    from arrears_local.openapi import FINANCE_DOCUMENT, finance_openapi
    from arrears_local.webhooks_openapi import WEBHOOKS_DOCUMENT, webhooks_openapi

    documents = {FINANCE_DOCUMENT: finance_openapi(), WEBHOOKS_DOCUMENT: webhooks_openapi()}
    if check:
        stale = [path for path, document in documents.items()
                 if not path.exists() or path.read_text(encoding="utf-8") != document]
        for path in stale:
            console.print(f"[red]{path} is stale[/]: run `arrears openapi`")
        if stale:
            raise typer.Exit(1)
        console.print(" and ".join(str(path) for path in documents) + " are up to date")
        return
    for path, document in documents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document, encoding="utf-8")
        console.print(f"wrote {path}")

def main() -> None:
    app(prog_name="arrears")


if __name__ == "__main__":
    sys.exit(main())
