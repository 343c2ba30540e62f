"""`arrears audit`: verify the audit archive offline and export a period of it for an auditor."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

audit_app = typer.Typer(no_args_is_help=True, help="Verify the audit archive and export it for auditors.")
console = Console(soft_wrap=True)  # a problem is one line, whatever the terminal's width
# Help text is rich markup: a literal "[" is written "\\[" (s3://bucket[/prefix] would be read as a closing tag).


@audit_app.command("verify")
def verify(
    target: str = typer.Argument(..., metavar="PATH_OR_S3_URI",
                                 help="A folder laid out like the audit bucket, an export zip, or s3://bucket\\[/prefix]."),
) -> None:
    """Check every chain, artefact hash and manifest; exits 1 and names each problem found."""
    from arrears.adapters.audit_sources import open_source
    from arrears.usecases.audit.verify import verify_archive

    try:
        source = open_source(target)
    except ValueError as error:
        console.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(2) from None
    report = verify_archive(source)
    for problem in report.problems:
        console.print(f"[red]✗[/] {escape(problem.message)}", highlight=False)
    if report.problems:
        console.print(f"[red]{len(report.problems)} problem(s)[/] in {escape(report.summary())}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]✓ verified[/] {escape(report.summary())}", highlight=False)


@audit_app.command("export")
def export(
    date_from: datetime = typer.Option(..., "--from", formats=["%Y-%m-%d"], help="First day (UTC) of the period."),
    date_to: datetime = typer.Option(..., "--to", formats=["%Y-%m-%d"], help="Last day (UTC) of the period, inclusive."),
    customer: str = typer.Option(None, "--customer", help="Only this customer's invoices (billing platform id)."),
    source: str = typer.Option(..., "--source", help="The archive: a folder like the audit bucket, or s3://bucket\\[/prefix]."),
    out: Path = typer.Option(None, "--out", help="The zip to write (default: arrears-audit-FROM-TO[-CUSTOMER].zip)."),
    allow_problems: bool = typer.Option(False, help="Export even if verify finds problems in the source."),
) -> None:
    """Write a zip an auditor can take away: the period's entries, manifests, artefacts and a README."""
    from arrears.usecases.audit.export import ExportRefused, build_export
    from arrears.adapters.audit_sources import open_source

    try:
        archive = open_source(source)
        result = build_export(archive, date_from.date(), date_to.date(), customer, datetime.now(timezone.utc), allow_problems)
    except ValueError as error:
        console.print(f"[red]{escape(str(error))}[/]")
        raise typer.Exit(2) from None
    except ExportRefused as refused:
        for problem in refused.report.problems:
            console.print(f"[red]✗[/] {escape(problem.message)}", highlight=False)
        console.print(f"[red]not exported:[/] {len(refused.report.problems)} problem(s) in {escape(refused.report.source)} "
                      "(--allow-problems exports anyway)", highlight=False)
        raise typer.Exit(1) from None
    name = f"arrears-audit-{date_from:%Y-%m-%d}-{date_to:%Y-%m-%d}" + (f"-{customer}" if customer else "") + ".zip"
    path = out or Path(name)
    path.write_bytes(result.content)
    console.print(f"wrote {escape(str(path))}: {result.invoices} invoices, {result.entries} entries, "
                  f"{result.artefacts} artefacts (see README.md inside)", highlight=False)
