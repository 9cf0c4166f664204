"""The ``coordinator`` command: set up, administer and run an installation.

``coordinator init`` works before anything exists; the other commands need an initialised
instance. The same commands are available as ``flask --app coordinator …`` once it is.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, routes_command, shell_command, with_appcontext
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from werkzeug.serving import run_simple

from coordinator import clock, demo
from coordinator import config as settings
from coordinator import instance as instance_setup
from coordinator.access import Actor
from coordinator.admin import service as admin_service
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.roles import Role
from coordinator.backup import BackupFailed
from coordinator.backup import service as backups
from coordinator.backup.contents import Contents
from coordinator.crypto import rotation
from coordinator.crypto import runtime as crypto_runtime
from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.journal import retention
from coordinator.journal import service as journal_service
from coordinator.journal.chain import Verification
from coordinator.patients import certificates, importer


def _create_app(overrides: dict[str, object] | None = None) -> Flask:
    from coordinator import create_app

    try:
        return create_app(overrides)
    except settings.ConfigurationError as error:
        raise NoAppException(str(error)) from error


def _in_app(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside the app, and close its database connections when it ends."""

    @with_appcontext
    @functools.wraps(command)
    def run_and_close(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        finally:
            db.session.remove()
            db.engine.dispose()

    return run_and_close


def _fail_on_domain_error(error: DomainError) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(str(error.message))


@click.command("init")
def init_command() -> None:
    """Create or upgrade the instance: folder, key files and database schema."""
    instance = settings.instance_path()
    environment = settings.from_environment()
    url = make_url(settings.database_url(environment.get("SQLALCHEMY_DATABASE_URI", ""), instance))
    sqlite_file = url.database if url.get_backend_name() == "sqlite" and url.database else None
    need_encryption_keys = not environment.get("ENCRYPTION_KEYS")
    keys_file = crypto_runtime.key_file(instance)
    if need_encryption_keys and not keys_file.exists() and crypto_runtime.holds_canaries(url):
        raise click.ClickException(
            f"The database already holds encrypted data, but the key file {keys_file} is "
            "missing. Restore the key file that belongs to this database (or set "
            "COORDINATOR_ENCRYPTION_KEYS): new keys would not open its data."
        )
    created_files = instance_setup.prepare(
        instance,
        need_secret_key=not environment.get("SECRET_KEY"),
        need_encryption_keys=need_encryption_keys,
        sqlite_file=sqlite_file,
    )
    for created in created_files:
        click.echo(f"created {created}")
    app = _create_app()
    with app.app_context():
        upgrade()
        if crypto_runtime.write_canary():
            click.echo(f"wrote the key canary for key version {crypto_runtime.keys().current}")
        db.session.commit()
        db.engine.dispose()
    click.echo(f"instance ready: {instance}")


@click.command("create-unit")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in UnitKind]), default="health_centre")
@click.option("--provider", type=click.Choice([p.value for p in ProviderType]), default="public")
@_in_app
def create_unit_command(name: str, kind: str, provider: str) -> None:
    """Create a care unit."""
    details = admin_service.UnitDetails(name, UnitKind(kind), ProviderType(provider))
    try:
        unit = admin_service.create_unit(details)
    except DomainError as error:
        raise _fail_on_domain_error(error) from error
    db.session.commit()
    click.echo(f"created care unit {unit.id}: {unit.name}")


@click.command("create-user")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name.")
@click.option("--title", default=None, help="Professional title, e.g. Arbetsterapeut.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", "unit_names", multiple=True, help="Care unit name (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--must-change-password", is_flag=True, help="Require a new password at sign-in.")
@_in_app
def create_user_command(
    username: str,
    full_name: str,
    title: str | None,
    role: str,
    unit_names: tuple[str, ...],
    password_stdin: bool,
    must_change_password: bool,
) -> None:
    """Create a user; the password is asked for (or read from standard input)."""
    units = {unit.name: unit for unit in admin_service.list_units()}
    missing = [name for name in unit_names if name not in units]
    if missing:
        raise click.ClickException(f"no such care unit: {', '.join(missing)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    details = admin_service.UserDetails(
        full_name=full_name,
        title=title,
        role=Role(role),
        unit_ids=[units[name].id for name in unit_names],
    )
    try:
        user = admin_service.create_user(
            username, password, details, must_change_password=must_change_password
        )
    except DomainError as error:
        raise _fail_on_domain_error(error) from error
    db.session.commit()
    click.echo(f"created user {user.id}: {user.username} ({user.role.value})")


@click.command("demo-data")
@click.option("--reset-passwords", is_flag=True, help="Give the demo users a new password.")
@_in_app
def demo_data_command(reset_passwords: bool) -> None:
    """Load the fictitious demo units and users (once)."""
    from flask import current_app

    configured = current_app.config["DEMO_PASSWORD"]
    password = configured or demo.new_password()
    try:
        if not demo.is_loaded():
            demo.load(password)
        elif reset_passwords:
            demo.reset_passwords(password)
        else:
            click.echo("Demo data is already loaded. Demo sign-ins:")
            click.echo("\n".join(demo.sign_ins()))
            click.echo("(Forgot the password? `coordinator demo-data --reset-passwords`.)")
            return
    except DomainError as error:
        raise _fail_on_domain_error(error) from error
    db.session.commit()
    click.echo("Demo sign-ins:")
    click.echo("\n".join(demo.sign_ins()))
    if configured:
        click.echo("Password: the value of COORDINATOR_DEMO_PASSWORD")
    else:
        click.echo(f"Password (shown once): {password}")


@click.command("rotate-keys")
@click.option("--batch-size", default=500, show_default=True, help="Rows per committed batch.")
@_in_app
def rotate_keys_command(batch_size: int) -> None:
    """Add a key version, re-encrypt everything under it, retire the old one (resumable)."""

    def show(table: str, done: int, total: int) -> None:
        click.echo(f"  {table}: {done}/{total}")

    def announce(report: rotation.RotationReport) -> None:
        if report.added is not None:
            click.echo(f"added key version {report.added}; new values are encrypted with it")
        else:
            click.echo(f"resuming the rotation to key version {report.current}")
        click.echo("re-encrypting:")

    try:
        report = rotation.rotate(batch_size=batch_size, progress=show, started=announce)
    except rotation.RotationRefused as error:
        raise click.ClickException(str(error)) from error
    for table, count in sorted(report.reencrypted.items()):
        click.echo(f"re-encrypted {count} rows in {table}")
    if report.remaining:
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(report.remaining.items()))
        click.echo(
            f"values still under old keys ({versions}); restart every app instance so it "
            "loads the new key, then run rotate-keys again"
        )
        sys.exit(1)
    if report.retired:
        click.echo(f"retired key version(s) {', '.join(map(str, report.retired))}")
    if report.instructions:
        click.echo(report.instructions)


@click.command("verify-journal")
@_in_app
def verify_journal_command() -> None:
    """Check both journal chains end to end; exit 1 at the first broken entry.

    The result is recorded where managers see it (Log follow-up → Chain status); a broken chain
    raises the alarm on their start pages. Run it nightly (docs/deployment.md).
    """
    from coordinator.logreview import chainstatus

    try:
        run = chainstatus.start(None)
    except DomainError as error:
        raise _fail_on_domain_error(error) from error

    def show(done: int, total: int) -> None:
        click.echo(f"  {done}/{total} entries", err=True)

    # Progress for someone watching; a nightly run (cron, a timer) mails only the result.
    outcome = chainstatus.carry_out(run.id, progress=show if sys.stderr.isatty() else None)
    if outcome.run.error:
        raise click.ClickException(f"the verification could not finish: {outcome.run.error}")
    for result in outcome.results:
        _echo_verification(result)
    if outcome.run.is_broken:
        sys.exit(1)


def _echo_verification(result: Verification) -> None:
    if result.broken is None:
        click.echo(f"{result.chain.value}: {result.verified} entries verified, chain intact")
    else:
        click.echo(
            f"{result.chain.value}: BROKEN at entry {result.broken.seq}: "
            f"{result.broken.reason} ({result.verified} entries before it verified)"
        )


@click.command("purge-logs")
@click.option(
    "--before",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="Remove access-log entries recorded before this day (YYYY-MM-DD, Swedish time).",
)
@click.option(
    "--archive-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the archive file (default: log-archives in the instance folder).",
)
@_in_app
def purge_logs_command(before: datetime, archive_dir: Path | None) -> None:
    """Archive access-log entries past the retention time to an encrypted file, then delete
    them; refused for dates younger than ACCESS_LOG_RETENTION_YEARS."""
    day = before.date()
    folder = archive_dir if archive_dir is not None else retention.default_archive_dir()
    try:
        report = retention.purge(day, folder, clock.today())
    except DomainError as error:
        raise _fail_on_domain_error(error) from error
    except OSError as error:
        # The folder cannot be made or the file written (read-only, full, in the way): the
        # archive is written and read back before anything is deleted.
        db.session.rollback()
        raise click.ClickException(
            f"The archive could not be written in {folder}: {error.strerror or error}. "
            "Nothing was removed."
        ) from error
    if not report.removed or report.boundary_hash is None:
        click.echo(f"No access-log entries recorded before {day} are left: nothing was removed.")
        return
    click.echo(
        f"Archived and removed {report.removed} access-log entries "
        f"({report.first_seq}–{report.last_seq}) recorded before {day}."
    )
    click.echo(f"Archive: {report.archive}")
    click.echo(f"Boundary hash: {report.boundary_hash.hex()}")


@click.command("verify-archive")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_in_app
def verify_archive_command(file: Path) -> None:
    """Check an access-log archive, entry by entry from its base to its boundary; exit 1 if
    it is broken."""
    result = retention.verify_archive(file)
    header = result.header
    if header is not None:
        click.echo(
            f"{file}: access-log entries {header.first_seq}–{header.last_seq} recorded before "
            f"{header.before}, key version {header.key_version}"
        )
    if header is None or result.broken is not None:
        click.echo(f"BROKEN: {result.broken} ({result.verified} entries before it verified)")
        sys.exit(1)
    click.echo(
        f"{result.verified} entries verified, chain intact from base {header.base_hash.hex()} "
        f"to boundary {header.boundary_hash.hex()}"
    )
    if result.is_latest:
        click.echo("The boundary is the database's chain base: the kept log continues from it.")
    else:
        click.echo(
            "The boundary is not the database's chain base: an earlier archive, or one from "
            "another database."
        )


@click.command("backup")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (default: backups/coordinator-<engine>-<UTC time>.backup in the "
    "instance folder). Never overwritten.",
)
@_in_app
def backup_command(output: Path | None) -> None:
    """Write an encrypted backup of the whole database, consistent while the app runs.

    It opens only with the key file it was written with: back that up too, never beside the
    backup (docs/backup.md)."""
    try:
        report = backups.write(output)
    except BackupFailed as error:
        raise click.ClickException(str(error)) from error
    header = report.header
    click.echo(f"Backup: {report.path} ({report.size} bytes)")
    click.echo(
        f"{header.engine} database at schema revision {header.contents.revision}, encrypted "
        f"with key version {header.key_version}"
    )
    _echo_contents(header.contents)
    for head in header.contents.heads:
        click.echo(f"{head.chain} chain head: entry {head.seq}, hash {head.hash.hex()}")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that already holds data.")
@_in_app
def restore_command(file: Path, yes: bool) -> None:
    """Restore a backup into the configured database, after verifying all of it.

    Stop the app first: an SQLite database file is replaced; a PostgreSQL database gets the
    backup's tables in one transaction. Exit 1 if anything does not verify."""
    try:
        report = backups.restore(file, replace=yes)
    except BackupFailed as error:
        raise click.ClickException(str(error)) from error
    header = report.header
    click.echo(
        f"Restored {file}: {header.engine} database at schema revision "
        f"{header.contents.revision}, written {header.written_at.isoformat()}, key version "
        f"{header.key_version}; every part verified."
    )
    _echo_contents(report.restored)
    click.echo(f"All {len(report.restored.tables)} tables hold the rows the backup recorded.")
    if report.needs_upgrade:
        click.echo(
            f"This version of Coordinator is at schema revision {report.head_revision}: run "
            "`coordinator init` to upgrade the database, then `coordinator verify-journal`."
        )
        return
    for result in report.chains:
        _echo_verification(result)
    if report.unreadable:
        versions = ", ".join(f"v{v}: {n}" for v, n in report.unreadable.items())
        click.echo(
            f"Values sealed with key versions this key ring has retired or lacks ({versions}) "
            "do not open: use the key file from when the backup was taken (docs/backup.md)."
        )
    else:
        click.echo("Every encrypted value is sealed with an active key version.")
    if not report.is_intact:
        sys.exit(1)


def _echo_contents(contents: Contents) -> None:
    click.echo(
        f"patients: {contents.patients}, case-journal entries: {contents.journal_entries}, "
        f"access-log entries: {contents.access_log_entries}"
    )


@click.command("refresh-sick-leave")
@click.option("--batch-size", default=500, show_default=True, help="Patients per committed batch.")
@_in_app
def refresh_sick_leave_command(batch_size: int) -> None:
    """Recompute every patient's sick-leave summary, e.g. after SICK_LEAVE_GAP_DAYS changed."""
    gap = current_app.config["SICK_LEAVE_GAP_DAYS"]
    done = certificates.refresh_all(
        batch_size, progress=lambda n: click.echo(f"  {n} patients", err=True)
    )
    click.echo(f"Recomputed the sick leave of {done} patients (gap rule: {gap} days).")


@click.command("import-certificates")
@click.argument("file", type=click.File("rb"))
@click.option("--unit", "unit_id", type=int, required=True, help="Id of the care unit.")
@click.option("--user", "username", required=True, help="The coordinator importing (logged).")
@click.option("--dry-run", is_flag=True, help="Only report what would change.")
@_in_app
def import_certificates_command(file: BinaryIO, unit_id: int, username: str, dry_run: bool) -> None:
    """Import sick-leave certificates from a CSV file (docs/import.md): every line or none."""
    actor = _importing_actor(username, unit_id)
    try:
        report = importer.run(actor, file.read(), dry_run=dry_run)
    except importer.ImportRefused as refused:
        db.session.rollback()
        click.echo(str(refused.message), err=True)
        for error in refused.errors:
            click.echo(f"line {error.line}: {error.message}", err=True)
        sys.exit(1)
    except DomainError as error:
        raise _fail_on_domain_error(error) from error
    # A dry run has written only the access-log entries for the patients it found and showed.
    db.session.commit()
    _echo_import_report(report)


def _importing_actor(username: str, unit_id: int) -> Actor:
    """The coordinator an import is done as: the access log names a person, never "the CLI"."""
    user = User.find_by_username(username)
    if user is None or not user.is_active or user.role is not Role.COORDINATOR:
        raise click.ClickException(f"{username} is not an active coordinator")
    unit = db.session.get(CareUnit, unit_id)
    if unit is None or unit not in user.active_units:
        raise click.ClickException(f"{username} does not work in care unit {unit_id}")
    return Actor(user=user, role=user.role, unit=unit, request_id="cli:import")


def _echo_import_report(report: importer.ImportReport) -> None:
    if report.is_dry_run:
        for step in report.steps:
            click.echo(f"line {step.line}: {step.message}")
    for warning in report.warnings:
        click.echo(f"warning, line {warning.line}: {warning.message}")
    click.echo(f"certificate lines: {report.rows}")
    click.echo(f"new patients: {report.new_patients}")
    click.echo(f"new certificates: {report.new_certificates}")
    click.echo(f"skipped (already registered or repeated): {report.duplicates}")
    if report.is_dry_run:
        click.echo("dry run: nothing was imported; run again without --dry-run to import")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def run_command(host: str, port: int) -> None:
    """Start the development server (plain HTTP; for production see docs/deployment.md)."""
    # Plain HTTP on loopback: cookies marked Secure would not come back over it.
    app = _create_app({"SESSION_COOKIE_SECURE": False})
    with app.app_context():
        if demo.is_loaded():
            click.echo("Demo sign-ins:")
            click.echo("\n".join(demo.sign_ins()))
        db.session.remove()
    click.echo(f"Coordinator is running on http://{host}:{port}/ (Ctrl-C stops it)")
    # Not app.run(): Flask ignores it inside a command of its own CLI.
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@click.group("report")
def report_group() -> None:
    """Reports for scheduling: written to a file or standard output."""


@report_group.command("quarterly")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--quarter", type=click.IntRange(1, 4), required=True)
@click.option("--unit", "unit_id", type=int, help="One care unit (default: every active unit).")
@click.option("--format", "file_format", type=click.Choice(["csv", "pdf"]), default="csv")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write (default: standard output; a PDF needs a file).",
)
@click.option("--rate", type=click.IntRange(0, 100_000), help="Kronor per reimbursable contact.")
@_in_app
def report_quarterly_command(
    year: int,
    quarter: int,
    unit_id: int | None,
    file_format: str,
    output: str | None,
    rate: int | None,
) -> None:
    """The quarterly report under the state agreement, as CSV or PDF.

    The export is logged like one from the web, per counted patient, under the command's name.
    """
    from coordinator import printing
    from coordinator.reports import exports, quarterly

    query = db.select(CareUnit).where(CareUnit.is_active.is_(True)).order_by(CareUnit.name)
    if unit_id is not None:
        query = query.where(CareUnit.id == unit_id)
    units = list(db.session.scalars(query))
    if not units:
        raise click.ClickException(f"No active care unit with id {unit_id}.")
    if file_format == "pdf" and output is None:
        raise click.ClickException("Give --output for a PDF.")
    report = quarterly.quarterly_report(
        units, year, quarter,
        current_app.config["REIMBURSEMENT_RATE"] if rate is None else rate,
        current_app.config["KBT_MIN_SESSIONS"],
    )  # fmt: skip
    if file_format == "pdf":
        data = exports.quarterly_pdf(report)
    else:
        with printing.in_print_language():  # the report is sent in Swedish, as the PDF
            data = exports.quarterly_csv(report).encode("utf-8")
    journal_service.record_export(
        None, report.patient_ids, f"quarterly:{year}Q{quarter}", "report-quarterly"
    )
    db.session.commit()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(output, "wb") as file:
            file.write(data)
        click.echo(f"Wrote {output} ({len(report.units)} units, {report.label}).", err=True)


#: Commands that need a working app; also offered as ``flask --app coordinator <command>``.
APP_COMMANDS = (
    init_command,
    create_unit_command,
    create_user_command,
    demo_data_command,
    rotate_keys_command,
    verify_journal_command,
    purge_logs_command,
    verify_archive_command,
    backup_command,
    restore_command,
    import_certificates_command,
    refresh_sick_leave_command,
    report_group,
)


def register(app: Flask) -> None:
    for command in APP_COMMANDS:
        app.cli.add_command(command)


main = FlaskGroup(
    name="coordinator",
    help=__doc__,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
for _command in (*APP_COMMANDS, run_command, shell_command, routes_command):
    main.add_command(_command)

if __name__ == "__main__":
    main()
