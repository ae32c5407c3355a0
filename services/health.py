"""`sheetstage health`: each check of DESIGN.md "Recovery and operations", measured, with the
fix for each problem.

The checks, in the order they are shown:
- registry: each script's parentId is its spreadsheet, each spreadsheet is one in Drive
  (`jobs.check_registry`, the same as `sheetstage registry check`);
- git: `git fsck` of the workspace (hooks and fsmonitor off, as sheetstage runs git);
- audit trail: `audit verify` (chains, owners, anchors, the activity log when it can be read);
- state: each project's hash in state.json against the files on disk;
- api: one cheap call to each API (Apps Script, Drive, Sheets), one attempt, with its latency;
- quota: calls per quota bucket (their peak within a minute against the configured per-minute
  quota, and the 429 answers), as the last --batch recorded them in its trail entry, or as
  this health run made them when no batch recorded any;
- drive sharing: Drive v3 permissions.list of every DEV3 and production spreadsheet and script
  (in Drive batch requests of 100 calls);
- drive folders: each spreadsheet's parents (a bound script lives in its spreadsheet; files.get
  in batch requests too);
- last batch: the last successful `--batch` within the longest gap of [schedule] plus an hour
  (snapshot entries of intact trails with `run` batch and result ok). A workspace where no
  `--batch` ever ran fails it (the demo opened with `sheetstage --demo` takes its first snapshot
  as the TUI's, not as a batch): nothing runs on schedule there yet;
- remote: the off-site backup's main is the workspace's HEAD.

Who may hold what in Drive (the accounts come from roles.toml's [accounts]):
- DEV3 files are shared only with the dev team: the Google accounts of the people who hold a
  role (developers, practice managers, the service account), any role; and the practice's
  domain (the domains of those accounts) as reader or commenter. Anyone with the link, another
  domain, a group or any other account is outside the dev team.
- Production files are never shared with anyone with the link, and only practice managers'
  and the service account's accounts may edit them (owner or writer). Readers are not limited.

Problems are named by sheet number and environment (never by a sheet's or file's name) with
the command or the Drive change that fixes them. Nothing here changes anything.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services import jobs
from services.access import DEVELOPER, PRACTICE_MANAGER, SERVICE_ACCOUNT, RolesFile, read_roles
from services.audit import AuditEntry, AuditReport
from services.errors import SheetstageError
from services.google_client import (
    BATCH_MOST,
    QUOTAS,
    ApiNotEnabledError,
    GoogleApiError,
    GoogleClient,
    Meter,
    NotFoundError,
    PermissionDeniedError,
    QuotaUse,
    RateLimitedError,
    ServerError,
    TransportError,
    usage_from_record,
)
from services.models import Environment, Sheet
from services.overview import short_time
from services.progress import counted
from services.registry import IdMapper
from services.session import Session
from services.snapshot import disk_hash
from services.state import State
from services.workspace import PushError

CHECKS = (
    "registry",
    "git",
    "audit trail",
    "state",
    "api",
    "quota",
    "drive sharing",
    "drive folders",
    "last batch",
    "remote",
)
FOLDER_MIME = "application/vnd.google-apps.folder"
WRITE_ROLES = frozenset({"owner", "organizer", "fileOrganizer", "writer"})
READ_ROLES = frozenset({"reader", "commenter"})
SHOWN = 20  # problems of one kind shown one by one; the rest are counted in one more line
_QUOTA_NAMES = {
    "script": "Apps Script",
    "drive": "Drive",
    "sheets-read": "Sheets reads",
    "sheets-write": "Sheets writes",
}
_ENV_NAMES = {Environment.PRODUCTION: "production", Environment.STAGING: "DEV3"}


@dataclass(frozen=True)
class Check:
    name: str  # one of CHECKS
    ok: bool
    detail: str  # what was measured, in words with figures
    fix: str = ""  # when not ok: the command or action that fixes it, one line

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass
class HealthReport:
    checks: list[Check]
    time: str = ""  # when it was measured (UTC, ISO 8601)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def lines(self) -> list[str]:
        """Aligned text: status, check, detail; a failing check's fix on its own line under
        the detail; then one summary line."""
        width = max((len(check.name) for check in self.checks), default=0)
        indent = " " * (len("✗ PROBLEM") + 2 + width + 2)
        lines = []
        for check in self.checks:
            status = "✓ ok" if check.ok else "✗ PROBLEM"
            lines.append(f"{status:<9}  {check.name:<{width}}  {check.detail}")
            if not check.ok and check.fix:
                lines.append(f"{indent}fix: {check.fix}")
        lines.append(self.summary())
        return lines

    def summary(self) -> str:
        if self.ok:
            return f"healthy: {counted(len(self.checks), 'check')} passed (exit 0)"
        names: dict[str, int] = {}
        for check in self.problems:
            names[check.name] = names.get(check.name, 0) + 1
        which = ", ".join(f"{name} {count}" if count > 1 else name for name, count in names.items())
        problems = counted(len(self.problems), "problem")
        checks = counted(len(self.checks), "check")
        return f"{problems} in {checks} ({which}), each with its fix (exit 1)"

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "time": self.time,
            "problems": len(self.problems),
            "checks": [check.as_json() for check in self.checks],
        }


# the run --------------------------------------------------------------------------------------


def run_health(session: Session, now: datetime | None = None) -> HealthReport:
    """Every check, measured now (`now` decides only how old the last batch is). Google is
    read on the client's own threads while git and the files are checked here."""
    moment = _aware(now) if now is not None else datetime.now(UTC)
    checks: dict[str, list[Check]] = {name: [] for name in CHECKS}
    client, opened = _open_client(session)
    meter = client.meter() if client is not None else None
    reachable: dict[str, str] = {}  # api -> why it cannot be reached
    if client is None:
        checks["api"].append(opened)
        reachable = {api: opened.detail for api in ("script", "drive", "sheets")}
    else:
        probe, reachable = _probe_apis(session, client)
        checks["api"].append(probe)

    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="sheetstage-health") as pool:
        registry = _later(pool, reachable, ("script", "drive"), lambda: _registry(session))
        drive = _later(pool, reachable, ("drive",), lambda: _drive(session, client))
        checks["git"].append(_git(session))
        report, audit = _audit(session, sheets_down=reachable.get("sheets", ""))
        checks["audit trail"].append(audit)
        checks["state"].append(_state(session))
        checks["last batch"].append(_last_batch(session, report, moment))
        checks["remote"].append(_remote(session))
        for names, outcome in (
            (["registry"], registry),
            (["drive sharing", "drive folders"], drive),
        ):
            if not isinstance(outcome, str):
                try:
                    for check in outcome.result():
                        checks[check.name].append(check)
                    continue
                except SheetstageError as error:  # credentials refused in the middle, say
                    outcome = f"not checked: {error}"
            for name in names:
                checks[name].append(_not_checked(name, outcome))
    checks["quota"].append(_quota(session, client, report, meter))
    if meter is not None:
        meter.stop()
    ordered = [check for name in CHECKS for check in checks[name]]
    return HealthReport(ordered, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _later(
    pool: concurrent.futures.ThreadPoolExecutor,
    reachable: Mapping[str, str],
    needs: Sequence[str],
    work: Callable[[], list[Check]],
) -> concurrent.futures.Future[list[Check]] | str:
    """The work started on the pool, or why it cannot run (an API it needs is unreachable)."""
    down = [reachable[api] for api in needs if reachable.get(api)]
    if down:
        return f"not checked: {down[0]}"
    return pool.submit(work)


def _not_checked(name: str, why: str) -> Check:
    return Check(
        name, False, why, "make the API reachable (the api check says how), then run again"
    )


# api and quota ----------------------------------------------------------------------------------


def _open_client(session: Session) -> tuple[GoogleClient | None, Check]:
    """The session's client, or the api check saying why there is none (no credentials, a
    token endpoint that refuses them)."""
    try:
        return session.client, Check("api", True, "")
    except SheetstageError as error:
        text = str(error)
        fix = text.rpartition("; ")[2] if "; " in text else "run `sheetstage login`"
        return None, Check("api", False, f"no Google client: {text}", fix)


def _probe_apis(session: Session, client: GoogleClient) -> tuple[Check, dict[str, str]]:
    """One call to each API, one attempt each, timed; what failed, per API."""
    sheets = session.registry.sheets
    log_id = session.registry.activity_log_spreadsheet_id
    first = sheets[0] if sheets else None
    spreadsheet = first.prod_spreadsheet_id if first else log_id
    probes: list[tuple[str, str, Callable[[], Any]]] = []
    if first is not None:
        script = first.prod_script_id
        probes.append(("script", "Apps Script", lambda: client.get_project(script, attempts=1)))
    if spreadsheet:
        probes.append(
            ("drive", "Drive", lambda: client.get_drive_file(spreadsheet, "id", attempts=1))
        )
        target = log_id or spreadsheet
        probes.append(
            (
                "sheets",
                "Sheets",
                lambda: client.get_spreadsheet(target, fields="spreadsheetId", attempts=1),
            )
        )
    if not probes:
        why = "registry.toml lists no sheets and no activity log: nothing to call"
        return Check("api", False, why, "fill the registry: `sheetstage registry import FILE`"), {}
    timings, failures, down = [], [], {}
    for api, title, call in probes:
        started = time.monotonic()
        try:
            call()
        except GoogleApiError as error:
            failures.append((title, error))
            down[api] = f"the {title} API cannot be used ({error.describe()})"
            continue
        except SheetstageError as error:  # the token endpoint refused or could not be reached
            failures.append((title, GoogleApiError(title, 0, "credentials", str(error))))
            down[api] = f"the {title} API cannot be used ({error})"
            continue
        timings.append(f"{title} {(time.monotonic() - started) * 1000:.0f} ms")
    if not failures:
        return Check("api", True, ", ".join(timings) + " (one call each)"), down
    title, error = failures[0]
    answered = f"; {', '.join(timings)} answered" if timings else ""
    detail = f"{title}: {error.describe()}{answered}"
    if len(failures) > 1:
        detail = f"{', '.join(t for t, _ in failures)} failed; {detail}"
    return Check("api", False, detail, _api_fix(session, error)), down


def _api_fix(session: Session, error: GoogleApiError) -> str:
    if isinstance(error, ApiNotEnabledError):
        return "turn on 'Google Apps Script API' at https://script.google.com/home/usersettings"
    if isinstance(error, TransportError):
        where = (
            "the in-process emulator (its state folder must be writable)"
            if session.config.backend == "emulator"
            else "[google] api_endpoint (empty: Google's own)"
        )
        return f"check the network, any proxy and {where}; then run `sheetstage health` again"
    if isinstance(error, PermissionDeniedError | NotFoundError):
        account = session.access.account or "your Google account"
        return (
            f"share sheet {session.registry.sheets[0].key}'s production files with {account} "
            "(reader at least), or fix its ids in registry.toml"
            if session.registry.sheets
            else "fix the activity log's id in registry.toml"
        )
    if isinstance(error, RateLimitedError):
        return "the quota is used up for now: run again in a minute (see the quota check)"
    if isinstance(error, ServerError):
        return "Google's side failed: run again in a few minutes"
    text = error.message
    return text.rpartition("; ")[2] if "; " in text else "run `sheetstage login`"


def _quota(
    session: Session, client: GoogleClient | None, report: AuditReport, meter: Meter | None
) -> Check:
    """Headroom per quota bucket: the peak within a minute against the configured quota, and
    the 429 answers, from the last --batch's trail entry (else this run's own calls)."""
    config = session.config
    if client is not None:
        limits = client.quota_limits
    else:
        script = config.client.requests_per_minute or (
            config.emulator.quota_per_minute if config.backend == "emulator" else 0
        )
        sheets = config.client.sheets_requests_per_minute
        limits = {"script": script, "drive": script, "sheets-read": sheets, "sheets-write": sheets}
    batch = _last_batch_entry(report, ok_only=False, measured=True)
    use: Mapping[str, QuotaUse] | None = usage_from_record(batch.hashes) if batch else None
    if batch is not None and use is not None:
        source = f"the last --batch ({short_time(batch.time)}, {batch.user})"
    elif meter is not None:
        use = meter.snapshot()
        source = "this health run (no --batch recorded its calls)"
    else:
        return Check("quota", False, "not measured: no Google client", "see the api check")
    parts, over = [], []
    for quota in QUOTAS:
        seen, limit = use[quota], limits.get(quota, 0)
        quota_text = "no quota set"
        if limit:
            room = max(0, limit - seen.peak_per_minute) * 100 // limit
            quota_text = f"quota {limit}/min, {room}% headroom"
            if seen.peak_per_minute > limit:
                over.append(_QUOTA_NAMES[quota])
        peak = f", peak {seen.peak_per_minute}/min" if seen.calls else ""
        parts.append(f"{_QUOTA_NAMES[quota]} {counted(seen.calls, 'call')}{peak} ({quota_text})")
    refused = sum(use[quota].rate_limited for quota in QUOTAS)
    refused_by = [f"{_QUOTA_NAMES[q]} {use[q].rate_limited}" for q in QUOTAS if use[q].rate_limited]
    answers = f"{counted(refused, '429 answer')}" + (
        f" ({', '.join(refused_by)})" if refused else ""
    )
    if over:
        answers += f"; above the quota: {', '.join(over)}"
    detail = f"{source}: " + "; ".join(parts) + f"; {answers}"
    if not refused and not over:
        return Check("quota", True, detail)
    fix = (
        "set [client].requests_per_minute (Apps Script, Drive) and sheets_requests_per_minute "
        "to the quotas Google grants this project (Cloud console > Quotas), or ask Google for more"
    )
    return Check("quota", False, detail, fix)


# registry, Drive ------------------------------------------------------------------------------


def _registry(session: Session) -> list[Check]:
    sheets = session.registry.sheets
    problems = jobs.check_registry(session)
    projects = 2 * len(sheets)
    if not problems:
        detail = (
            f"{counted(len(sheets), 'sheet')}: {counted(projects, 'script')} bound to their "
            f"spreadsheets (parentId), {counted(projects, 'spreadsheet')} of Drive's "
            "spreadsheet type"
        )
        return [Check("registry", True, detail)]
    shown = "; ".join(f"sheet {p.sheet.key} {_ENV_NAMES[p.env]}: {p.problem}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    detail = f"{len(problems)} of {counted(projects, 'project')} wrong: {shown}{more}"
    fix = (
        "correct their ids in registry.toml (`sheetstage registry import FILE`); "
        "`sheetstage registry check` lists every one"
    )
    return [Check("registry", False, detail, fix)]


@dataclass(frozen=True)
class DriveFile:
    sheet: Sheet
    env: Environment
    kind: str  # "spreadsheet" or "script"
    id: str

    @property
    def label(self) -> str:
        return f"sheet {self.sheet.key}'s {_ENV_NAMES[self.env]} {self.kind}"

    @property
    def title(self) -> str:
        return f"sheet {self.sheet.key} {_ENV_NAMES[self.env]} {self.kind}"


@dataclass(frozen=True)
class Principals:
    """Who may hold what in Drive, from roles.toml (see the module docstring)."""

    dev_team: frozenset[str]
    production_writers: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def from_roles(cls, roles: RolesFile) -> Principals:
        def accounts(*held: str) -> frozenset[str]:
            people = set().union(*(roles.holders(role) for role in held))
            return frozenset(
                roles.accounts[person].lower() for person in people if person in roles.accounts
            )

        team = accounts(DEVELOPER, PRACTICE_MANAGER, SERVICE_ACCOUNT)
        writers = accounts(PRACTICE_MANAGER, SERVICE_ACCOUNT)
        return cls(team, writers, frozenset(email.partition("@")[2] for email in team))

    def describe(self) -> str:
        domains = " and ".join(sorted(self.domains)) or "no domain"
        return f"the dev team's {counted(len(self.dev_team), 'account')} (and {domains} reading)"


@dataclass(frozen=True)
class SharingProblem:
    file: DriveFile
    detail: str
    fix: str


def judge(
    file: DriveFile, permissions: Iterable[Mapping[str, Any]], allowed: Principals
) -> list[SharingProblem]:
    """What is wrong with a file's sharing by the rules of the module docstring."""
    found = []
    for permission in permissions:
        kind = str(permission.get("type", ""))
        role = str(permission.get("role", ""))
        email = str(permission.get("emailAddress", "")).lower()
        domain = str(permission.get("domain", "")).lower()
        anyone = (
            "anyone on the web" if permission.get("allowFileDiscovery") else "anyone with the link"
        )
        who = {"anyone": anyone, "domain": f"the whole domain {domain}"}.get(
            kind, f"{email or 'an account'}" + (" (a group)" if kind == "group" else "")
        )
        can = "edit" if role in WRITE_ROLES else "read"
        if kind == "anyone":
            found.append(
                SharingProblem(
                    file,
                    f"{file.title}: {who} can {can} it",
                    f"in Drive, set General access of {file.label} to Restricted "
                    "(Share > General access)",
                )
            )
            continue
        if file.env is Environment.STAGING:
            inside = (kind == "user" and email in allowed.dev_team) or (
                kind == "domain" and domain in allowed.domains and role in READ_ROLES
            )
            if not inside:
                found.append(
                    SharingProblem(
                        file,
                        f"{file.title}: shared with {who} ({role}), outside the dev team",
                        f"in Drive, remove {who} from {file.label} (Share > Remove access), "
                        "or give that account a role in roles.toml if it is on the dev team",
                    )
                )
        elif role in WRITE_ROLES and not (kind == "user" and email in allowed.production_writers):
            found.append(
                SharingProblem(
                    file,
                    f"{file.title}: {who} can edit it ({role}); production writers are only "
                    "practice managers and the service account",
                    f"in Drive, make {who} a viewer of {file.label} (Share), or list that account "
                    "in roles.toml as a practice manager's or the service account's",
                )
            )
    return found


def _drive_files(sheets: Sequence[Sheet]) -> list[DriveFile]:
    return [
        DriveFile(sheet, env, kind, file_id)
        for sheet in sheets
        for env in (Environment.PRODUCTION, Environment.STAGING)
        for kind, file_id in (
            ("spreadsheet", sheet.spreadsheet_id(env)),
            ("script", sheet.script_id(env)),
        )
    ]


def _drive(session: Session, client: GoogleClient | None) -> list[Check]:
    """Sharing and folders: permissions.list of every file and files.get of every spreadsheet
    in Drive batch requests (BATCH_MOST calls in one HTTP request, each call paced and counted
    by the client as Google counts it), the batches read concurrently."""
    assert client is not None
    files = _drive_files(session.registry.sheets)
    spreadsheets = [f for f in files if f.kind == "spreadsheet"]

    async def in_batches(read: Callable[[list[str]], list[Any]], ids: list[str]) -> list[Any]:
        chunks = [ids[i : i + BATCH_MOST] for i in range(0, len(ids), BATCH_MOST)]
        answers = await asyncio.gather(*(client.run(read, chunk) for chunk in chunks))
        return [answer for chunk in answers for answer in chunk]

    async def read_all() -> tuple[list[Any], list[Any]]:
        shared, placed = await asyncio.gather(
            in_batches(client.list_permissions_of, [f.id for f in files]),
            in_batches(
                lambda ids: client.get_drive_files(ids, "id,parents"),
                [f.id for f in spreadsheets],
            ),
        )
        return shared, placed

    listed, found = asyncio.run(read_all())
    placed = [
        meta if isinstance(meta, GoogleApiError) else [str(p) for p in meta.get("parents", [])]
        for meta in found
    ]
    roles = read_roles(session.workspace)
    return [
        *_sharing(files, listed, roles),
        *_folders(spreadsheets, placed),
    ]


def _sharing(
    files: Sequence[DriveFile],
    listed: Sequence[list[dict[str, Any]] | GoogleApiError],
    roles: RolesFile,
) -> list[Check]:
    if roles.problem:
        return [
            Check(
                "drive sharing",
                False,
                f"not checked: roles.toml does not count ({roles.problem})",
                "fix roles.toml (`sheetstage roles` says what is wrong), then run again",
            )
        ]
    allowed = Principals.from_roles(roles)
    failed = [(f, e) for f, e in zip(files, listed, strict=True) if isinstance(e, GoogleApiError)]
    problems = [
        problem
        for f, permissions in zip(files, listed, strict=True)
        if not isinstance(permissions, GoogleApiError)
        for problem in judge(f, permissions, allowed)
    ]
    checks = [Check("drive sharing", False, p.detail, p.fix) for p in problems[:SHOWN]]
    if len(problems) > SHOWN:
        checks.append(
            Check(
                "drive sharing",
                False,
                f"and {len(problems) - SHOWN} more files shared against the rules",
                "`sheetstage health --json` lists the first ones with their fixes; fix those and "
                "run again",
            )
        )
    if failed:
        file, error = failed[0]
        detail = f"{counted(len(failed), 'file')} not read ({file.title}: {error.describe()})"
        checks.append(Check("drive sharing", False, detail, _listing_fix(error)))
    if not checks:
        detail = (
            f"{counted(len(files), 'file')} read through permissions.list: DEV3 shared only "
            f"with {allowed.describe()}, production never with anyone with the link and "
            "edited only by practice managers and the service account"
        )
        checks.append(Check("drive sharing", True, detail))
    return checks


def _listing_fix(error: GoogleApiError) -> str:
    if isinstance(error, PermissionDeniedError):
        return (
            "run `sheetstage health` as a practice manager: Drive lists a file's sharing only "
            "to those who may edit it"
        )
    if isinstance(error, NotFoundError):
        return "correct the file's id in registry.toml (`sheetstage registry check`)"
    return "run `sheetstage health` again (the api check says whether Google answers)"


def _folders(
    spreadsheets: Sequence[DriveFile], placed: Sequence[list[str] | GoogleApiError]
) -> list[Check]:
    """Production and DEV3 spreadsheets each in folders of their own."""
    by_folder: dict[str, dict[Environment, list[DriveFile]]] = {}
    nowhere: list[DriveFile] = []
    failed: list[tuple[DriveFile, GoogleApiError]] = []
    for file, parents in zip(spreadsheets, placed, strict=True):
        if isinstance(parents, GoogleApiError):
            failed.append((file, parents))
        elif not parents:
            nowhere.append(file)
        for parent in parents if isinstance(parents, list) else []:
            by_folder.setdefault(parent, {}).setdefault(file.env, []).append(file)
    checks = []
    for folder, held in sorted(by_folder.items()):
        if len(held) < 2:
            continue
        production, staging = held[Environment.PRODUCTION], held[Environment.STAGING]
        stray, home = (
            (staging, "DEV3") if len(production) >= len(staging) else (production, "production")
        )
        names = ", ".join(f.title for f in stray[:3]) + (
            f" and {len(stray) - 3} more" if len(stray) > 3 else ""
        )
        checks.append(
            Check(
                "drive folders",
                False,
                f"folder {folder} holds {counted(len(production), 'production spreadsheet')} and "
                f"{counted(len(staging), 'DEV3 spreadsheet')} ({names})",
                f"in Drive, move {names} into a folder that holds only {home} files (Move)",
            )
        )
    if nowhere:
        names = ", ".join(f.title for f in nowhere[:3]) + (
            f" and {len(nowhere) - 3} more" if len(nowhere) > 3 else ""
        )
        checks.append(
            Check(
                "drive folders",
                False,
                f"{counted(len(nowhere), 'spreadsheet')} in no Drive folder you can see ({names})",
                "in Drive, move each into its environment's folder (production or DEV3), which "
                "holds no file of the other",
            )
        )
    if failed:
        file, error = failed[0]
        checks.append(
            Check(
                "drive folders",
                False,
                f"{counted(len(failed), 'spreadsheet')} not read "
                f"({file.title}: {error.describe()})",
                _listing_fix(error),
            )
        )
    if checks:
        return checks
    folders: dict[Environment, set[str]] = {env: set() for env in Environment}
    for folder, held in by_folder.items():
        for env in held:
            folders[env].add(folder)
    counts = {env: sum(1 for f in spreadsheets if f.env is env) for env in Environment}
    detail = (
        f"{counted(counts[Environment.PRODUCTION], 'production spreadsheet')} in "
        f"{counted(len(folders[Environment.PRODUCTION]), 'folder')}, "
        f"{counted(counts[Environment.STAGING], 'DEV3 spreadsheet')} in "
        f"{counted(len(folders[Environment.STAGING]), 'other folder')}; their scripts are bound "
        "to them"
    )
    return [Check("drive folders", True, detail)]


# the workspace ----------------------------------------------------------------------------------


def _git(session: Session) -> Check:
    workspace = session.workspace
    try:
        damage = workspace.damage()
    except SheetstageError as error:  # .git/config cannot be trusted: git is not run
        return Check("git", False, str(error), "`sheetstage roles` names the file and its fix")
    if damage:
        return Check("git", False, f"git fsck found damage: {damage}", _restore_fix(session))
    commits = workspace.commit_count()
    return Check("git", True, f"git fsck: {counted(commits, 'commit')}, no damage")


def _restore_fix(session: Session) -> str:
    remote = session.config.git.remote
    if remote:
        return (
            f"restore the workspace from its backup: `sheetstage init --from {remote}` in a "
            "new folder"
        )
    return "restore the workspace folder from a backup (no [git] remote is configured)"


def _audit(session: Session, sheets_down: str) -> tuple[AuditReport, Check]:
    """`audit verify`, with the activity log as witness when the Sheets API answers."""
    if sheets_down:
        report = session.verify(remote=session.config.git.remote)
        report.notes.insert(0, f"activity log not read: {sheets_down}")
    else:
        report = jobs.audit_report(session)
    lines = sum(check.lines for check in report.checks)
    witnessed = sum(check.witnessed for check in report.checks)
    if report.ok:
        detail = (
            f"{counted(len(report.checks), 'trail file')} verified, {counted(lines, 'line')} "
            f"({witnessed} witnessed by the activity log)"
        )
        return report, Check("audit trail", True, detail)
    broken = [check.describe() for check in report.broken] + report.history
    more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
    fix = (
        "`sheetstage audit verify` names each break; restore the file from the last commit "
        "that anchors it (`git log -p -- audit/`): its owner's approvals and role count for "
        "nothing until then"
    )
    return report, Check("audit trail", False, f"{broken[0]}{more}", fix)


def _state(session: Session) -> Check:
    workspace = session.workspace
    try:
        state = State.load(workspace)
    except SheetstageError as error:
        return Check("state", False, str(error), "`git checkout -- state.json` in the workspace")
    mapper = IdMapper(session.registry.sheets)
    checked, held, unrecorded, differ = 0, 0, 0, []
    for sheet in session.registry.sheets:
        for env in (Environment.PRODUCTION, Environment.STAGING):
            recorded = state.hash(sheet, env)
            if recorded is None:
                held += state.held_back(sheet, env) is not None
                unrecorded += state.held_back(sheet, env) is None
                continue
            checked += 1
            if disk_hash(workspace, mapper, sheet, env) != recorded:
                differ.append((sheet, env))
    never = f"; {counted(unrecorded, 'project')} never snapshotted" if unrecorded else ""
    if held:
        never += f"; {counted(held, 'project')} held back by the PHI gate (not on disk)"
    if not differ:
        detail = f"{counted(checked, 'project')} on disk match state.json's hashes{never}"
        return Check("state", True, detail)
    shown = ", ".join(f"sheet {s.key} {_ENV_NAMES[e]}" for s, e in differ[:5])
    more = f" and {len(differ) - 5} more" if len(differ) > 5 else ""
    numbers = " ".join(f"--sheet {s.number}" for s, _ in dict.fromkeys(differ[:5]))
    detail = f"{len(differ)} of {counted(checked, 'project')} differ from state.json: {shown}{more}"
    fix = (
        f"`sheetstage snapshot {numbers}` fetches them again (a crash or a hand changed the "
        "files); `git status` in the workspace shows what changed"
    )
    return Check("state", False, detail, fix)


# the scheduled job and the backup ---------------------------------------------------------------


def _last_batch_entry(
    report: AuditReport, ok_only: bool = True, measured: bool = False
) -> AuditEntry | None:
    """The newest snapshot entry a --batch run wrote, in the trails that verify (with result ok
    when `ok_only`; with its calls recorded when `measured`)."""
    found = [
        entry
        for entry in report.trusted_entries()
        if entry.action == "snapshot"
        and entry.hashes.get("run") == "batch"
        and (entry.result == "ok" or not ok_only)
        and (usage_from_record(entry.hashes) is not None or not measured)
    ]
    return max(found, key=lambda e: e.time, default=None)


def _parse_time(stamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _aware(moment)


def _hours(span: timedelta) -> str:
    """`17 h`, `3 h 05 min`, `12 min`."""
    minutes = max(0, int(span.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


def _last_batch(session: Session, report: AuditReport, now: datetime) -> Check:
    schedule = session.config.schedule
    gap = schedule.longest_gap(now.date())
    allowed = gap + timedelta(hours=1)
    plan = f"{', '.join(schedule.times)} {schedule.timezone}"
    rule = (
        f"allowed: {_hours(allowed)}, the longest gap of [schedule] ({plan}: {_hours(gap)}) "
        "plus an hour"
    )
    fix = (
        f"run `sheetstage --batch` now, and check the scheduler (the systemd timer or the "
        f"workflow) that should run it at {plan}"
    )
    last = _last_batch_entry(report)
    newest = _last_batch_entry(report, ok_only=False)
    failed = ""
    if newest is not None and newest.result != "ok" and (last is None or newest.time > last.time):
        failed = f"; the --batch of {short_time(newest.time)} failed ({newest.detail[:120]})"
    if last is None:
        detail = (
            "no successful --batch in the trails (snapshots run by hand or in the TUI do not count)"
        )
        return Check("last batch", False, detail + failed + f"; {rule}", fix)
    moment = _parse_time(last.time)
    if moment is None:
        return Check(
            "last batch", False, f"the last --batch has no readable time ({last.time!r})", fix
        )
    age = now - moment
    detail = f"last successful --batch {short_time(last.time)} by {last.user}, {_hours(age)} ago"
    if age <= allowed:
        return Check("last batch", True, f"{detail}; {rule}{failed}")
    return Check("last batch", False, f"{detail}, too long ago ({rule}){failed}", fix)


def _remote(session: Session) -> Check:
    remote = session.config.git.remote
    workspace = session.workspace
    if not remote:
        return Check(
            "remote",
            True,
            "no [git] remote configured: the workspace has no off-site backup to compare",
        )
    try:
        theirs = workspace.remote_head(remote)
        ours = workspace.head() or ""
    except PushError as error:
        return Check(
            "remote",
            False,
            str(error),
            f"check [git] remote and the network: `git ls-remote {remote}` must answer",
        )
    except SheetstageError as error:
        return Check("remote", False, str(error), "`sheetstage roles` names the file and its fix")
    if not theirs:
        return Check(
            "remote",
            False,
            f"{remote} has no main branch yet",
            "`sheetstage snapshot` pushes the workspace there",
        )
    if theirs == ours:
        return Check("remote", True, f"{remote} is at the workspace's HEAD {ours[:10]}")
    ahead, behind = workspace.ahead_behind(theirs)
    detail = f"{remote} is at {theirs[:10]}, the workspace at {ours[:10]}: "
    if not behind:
        detail += f"the backup lacks the workspace's last {counted(ahead, 'commit')}"
        fix = (
            "`sheetstage snapshot` pushes what the backup lacks (so does `git -C "
            f"{workspace.root} push {remote} main`)"
        )
    else:
        detail += f"the backup holds {counted(behind, 'commit')} the workspace lacks" + (
            f", and lacks {ahead} of its" if ahead else ""
        )
        fix = (
            f"find out who pushed them (`git -C {workspace.root} log HEAD..{theirs[:10]}`) before "
            "anything is pushed: the backup refuses history that does not extend its own"
        )
    return Check("remote", False, detail, fix)
