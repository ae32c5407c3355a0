"""SheetStageApp: the screens, the bindings, and the one place background workers start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from screens.activity import ActivityScreen
from screens.deploy import ApprovalScreen, ConfirmScreen, ReasonScreen, StepsScreen
from screens.diff import DiffScreen
from screens.findings import FindingsScreen
from screens.health import HealthScreen
from screens.help import HelpScreen
from screens.message import MessageScreen
from screens.rollback import RollbackScreen
from screens.sheets import COLUMNS, QUICK_FILTERS, SheetsScreen
from screens.testdata import TestDataScreen
from services import (
    activity,
    deploy,
    health,
    inspection,
    jobs,
    metrics,
    rollback,
    scripttests,
    scripttests_job,
    testdata_job,
    validation,
)
from services.config import Config
from services.errors import SheetstageError
from services.models import Environment, Sheet
from services.overview import SheetRow, load_rows, project_files, short_time
from services.progress import counted
from services.registry import IdMapper, load_registry
from services.session import Session
from services.snapshot import Fetched

HANGUP_EXIT = 129
HANGUP_WORKER_GRACE_S = 300.0  # a snapshot in flight gets this long to commit
HANGUP_SHUTDOWN_GRACE_S = 5.0
BACKGROUND_JOBS = ("snapshot", "validate", "testdata", "tests", "production")
StepsShown = Callable[[Sheet, "deploy.StepOutcome"], None]
ProductionWork = Callable[[StepsShown], list["deploy.DeployResult"]]


@dataclass
class JobProgress(Message):
    """Progress of a background job (snapshot, validation, tests, test data), one sheet at a
    time."""

    done: int
    total: int
    key: str
    failed: bool
    label: str


@dataclass
class JobPhase(Message):
    """A background job's step that has no count (a snapshot writing, committing, syncing),
    said as it starts."""

    label: str


class SheetCommands(Provider):
    """ctrl+p: go to any sheet, quick filters, sorting and every action."""

    def _commands(self, discovery: bool = False) -> list[tuple[str, object, str]]:
        """Every command; for `discovery` (the palette opened empty) the actions and quick
        filters only."""
        app: SheetStageApp = self.app  # type: ignore[assignment]
        sheets = app.sheets_screen
        if sheets is None:
            return []
        commands: list[tuple[str, object, str]] = [
            ("Snapshot highlighted or marked sheets", sheets.action_snapshot, "s"),
            ("Snapshot all sheets", sheets.action_snapshot_all, "S"),
            ("Diff of the highlighted sheet", sheets.action_diff, "d or enter"),
            ("Run staging tests of highlighted or marked sheets", sheets.action_run_tests, "t"),
            (
                "Generate synthetic test data for highlighted or marked sheets",
                sheets.action_generate_test_data,
                "g",
            ),
            ("Request review of the highlighted sheet", sheets.action_request_review, "R"),
            ("Approve the highlighted sheet's change (type yes)", sheets.action_approve, "a"),
            (
                "Deploy the highlighted sheet, or the marked approved ones",
                sheets.action_deploy,
                "D",
            ),
            ("Backup points and rollback", sheets.action_rollback_points, "b"),
            ("Adopt production's edit into DEV3", sheets.action_adopt, "A"),
            ("Revert production to its last deployed content", sheets.action_revert, "X"),
            ("Accept production's edit as the baseline (a reason)", sheets.action_accept, "c"),
            ("Activity: the merged audit trails and the alerts", sheets.action_activity, "l"),
            ("Health checks (with their fixes) and the five metrics", sheets.action_health, "m"),
            ("Reload from the workspace", app.reload, "r"),
            ("Help: every key", app.action_help, "?"),
        ]
        for index, quick in enumerate(QUICK_FILTERS):
            commands.append(
                (f"Show {quick.label}", lambda i=index: app.show_sheets().set_quick_filter(i), "f")
            )
        if discovery:
            return commands
        for column in COLUMNS:
            commands.append(
                (
                    f"Sort by {column.label.lower()}",
                    lambda k=column.key: app.show_sheets().sort_by(k, False),
                    "o",
                )
            )
        for row in app.rows:
            commands.append(
                (
                    f"Go to sheet {row.sheet.key} {row.sheet.name}",
                    lambda k=row.sheet.key: app.show_sheets().go_to(k),
                    str(row.drift.state),
                )
            )
        return commands

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands(discovery=True):
            yield DiscoveryHit(text, command, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)  # type: ignore[arg-type]


class SheetStageApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "sheetstage"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),
    ]
    COMMANDS = App.COMMANDS | {SheetCommands}

    def __init__(
        self,
        config: Config,
        read_only: bool = False,
        as_user: str = "",
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        """`on_ready` is called once the sheet list is shown and takes keys."""
        super().__init__()
        self.config = config
        self.on_ready = on_ready
        self.read_only = read_only
        self.as_user = as_user
        self.trail_problem = ""  # the acting person's own trail does not verify
        self.session: Session | None = None
        self.rows: list[SheetRow] = []
        self.mapper = IdMapper(())
        self._files: dict[str, list[str]] = {}

    # start and stop --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """A start that failed ends with the exit code the CLI gives the same problem."""
        screen = self.screen
        if any(w.group == "production" and w.is_running for w in self.workers):
            self.notify(
                "a change to production is running: quit when its steps end (production is "
                "never left between two states)",
                severity="warning",
            )
            return
        self.exit(return_code=screen.exit_code if isinstance(screen, MessageScreen) else 0)

    def on_mount(self) -> None:
        self._watch_hangup()
        try:
            self.session = Session.open(self.config, self.read_only, self.as_user)
            self._load()
        except SheetstageError as error:
            self.push_screen(MessageScreen("sheetstage cannot start", str(error), error.exit_code))
            return
        access = self.session.access
        for warning in [access.warning, *access.untrusted[:1]]:
            if warning:
                self.notify(warning, severity="warning", timeout=10)
        own = self.session.verify().check_of(access.user)
        if own is not None and not own.ok:
            self.trail_problem = own.describe()
            self.notify(
                f"your audit trail is not intact: {self.trail_problem}",
                severity="error",
                timeout=20,
            )
        self.push_screen(SheetsScreen())
        if self.on_ready is not None:
            self.call_after_refresh(self.on_ready)

    def _watch_hangup(self) -> None:
        """The SSH connection dropped: leave cleanly (workers finish their commit, locks go)."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)

    def _hangup(self) -> None:
        # The terminal is gone: send what Textual still draws to /dev/null, so its shutdown
        # cannot block on a dead tty, then exit as usual (running workers finish first).
        silence = os.open(os.devnull, os.O_RDWR)
        for descriptor in (0, 1, 2):
            os.dup2(silence, descriptor)
        threading.Thread(target=self._exit_when_stuck, name="hangup", daemon=True).start()
        self.exit(HANGUP_EXIT)

    def _exit_when_stuck(self) -> None:
        """Last resort if shutdown hangs: leave once no worker is mid-commit."""
        deadline = time.monotonic() + HANGUP_WORKER_GRACE_S
        while time.monotonic() < deadline and any(w.is_running for w in list(self.workers)):
            time.sleep(0.2)
        time.sleep(HANGUP_SHUTDOWN_GRACE_S)
        os._exit(HANGUP_EXIT)

    def on_unmount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self.session is not None:
            self.session.close()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Messages here carry config keys (`[test_data].max_rows`) and text from sheets and
        Google, never Rich markup: shown as written."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # data ------------------------------------------------------------------------------------

    def _load(self) -> None:
        assert self.session is not None
        self.session.registry = load_registry(self.session.workspace.registry_path)
        self.mapper = IdMapper(self.session.registry.sheets)
        self.rows = load_rows(self.session.workspace, self.session.registry)
        self._files.clear()

    def reload(self) -> None:
        if self.session is None:
            return
        try:
            self._load()
        except SheetstageError as error:
            self.notify(str(error), severity="error")
            return
        screen = self.sheets_screen
        if screen is not None:
            screen.refresh_rows()

    def project_files(self, sheet: Sheet) -> list[str]:
        if sheet.key not in self._files and self.session is not None:
            self._files[sheet.key] = project_files(
                self.session.workspace, sheet, Environment.STAGING
            ) or project_files(self.session.workspace, sheet, Environment.PRODUCTION)
        return self._files.get(sheet.key, [])

    @property
    def sheets_screen(self) -> SheetsScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, SheetsScreen)), None)

    def show_sheets(self) -> SheetsScreen:
        while not isinstance(self.screen, SheetsScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        screen = self.sheets_screen
        assert screen is not None
        return screen

    def banner(self) -> Text:
        if self.session is None:
            return Text("")
        access = self.session.access
        if access.simulated:  # the tag names the person and the backend already
            lead = [(f" SIMULATED: {access.user} (emulator only) ", "bold black on magenta")]
            who = f" {access.role_text} "
        else:
            lead, who = [], f" {access.user} · {access.role_text} · {self.config.backend} "
        if self.trail_problem:
            return Text.assemble(
                *lead, (" ✗ TRAIL BROKEN: NO AUTHORITY ", "bold white on red"), who
            )
        if access.read_only or not access.roles:
            return Text.assemble(*lead, (" READ-ONLY ", "bold black on yellow"), who)
        if access.can("deploy"):
            return Text.assemble(*lead, (" ● MAY WRITE PRODUCTION ", "bold white on red"), who)
        return Text.assemble(*lead, (" staging only ", "bold black on cyan"), who)

    # actions ---------------------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(
            HelpScreen(
                [
                    ("Sheet list", SheetsScreen.BINDINGS),
                    ("Diff", DiffScreen.BINDINGS),
                    ("Approval (type yes)", ApprovalScreen.BINDINGS),
                    ("Backup points", RollbackScreen.BINDINGS),
                    ("Activity", ActivityScreen.BINDINGS),
                    ("Health and metrics", HealthScreen.BINDINGS),
                    ("Everywhere", [*self.BINDINGS, Binding("ctrl+p", "", "Command palette")]),
                ]
            )
        )

    def open_diff(self, key: str, at: tuple[str, int] | None = None) -> None:
        """The sheet's diff, masked. Code the PHI gate held back is read live from Google
        first, in the background and in memory only."""
        if self.session is None:
            return
        session = self.session
        try:
            sheet = session.registry.by_number(int(key))
            shown = inspection.workspace_view(session.workspace, self.config, sheet, self.mapper)
        except SheetstageError as error:
            self.notify(str(error), severity="error", timeout=8)
            return
        drift = next((row.drift for row in self.rows if row.sheet.key == sheet.key), None)

        def show(view: inspection.SheetView) -> None:
            self.push_screen(
                DiffScreen(view.diff, self.mapper, view.risks, at, drift=drift, live=view.live)
            )

        if shown is not None:
            show(shown)
            return
        origin = self.screen
        self.notify(f"reading sheet {sheet.key}'s code the PHI gate held back…", timeout=2)

        async def read() -> None:
            try:
                view = await asyncio.to_thread(inspection.inspect, session, sheet, self.mapper)
            except SheetstageError as error:
                self.notify(str(error), severity="error", timeout=8)
                return
            if self.screen is origin:  # the user has not gone elsewhere meanwhile
                show(view)

        self.run_worker(read(), name="inspect", group="inspect", exit_on_error=False)

    def open_findings(self, key: str) -> None:
        """The sheet's PHI findings from the newer of the last validation and the gate's scan;
        for code the PHI gate held back, from the live code, read and masked on demand."""
        if self.session is None:
            return
        session = self.session
        try:
            sheet = session.registry.by_number(int(key))
            shown = inspection.workspace_findings(session.workspace, self.config, sheet)
        except SheetstageError as error:
            self.notify(str(error), severity="error", timeout=8)
            return
        if shown is not None:
            self.push_screen(FindingsScreen(sheet, shown))
            return
        origin = self.screen
        self.notify(f"reading sheet {sheet.key}'s DEV3 code the PHI gate held back…", timeout=2)

        async def read() -> None:
            try:
                view = await asyncio.to_thread(inspection.inspect, session, sheet, self.mapper)
            except SheetstageError as error:
                self.notify(str(error), severity="error", timeout=8)
                return
            if self.screen is origin:
                self.push_screen(FindingsScreen(sheet, view.findings))

        self.run_worker(read(), name="inspect", group="inspect", exit_on_error=False)

    # the acting half: review, approval, deploy, the ways back, activity -------------------------

    def _allowed(self, action: str) -> bool:
        """The role allows it and no background job is running (they all read or write what a
        change to production reads or writes)."""
        if self.session is None:
            return False
        try:
            self.session.require(action)
        except SheetstageError as error:
            self.notify(str(error), severity="error", timeout=10)
            return False
        if any(w.group in BACKGROUND_JOBS and w.is_running for w in self.workers):
            self.notify("a background job is running; try again when it ends", severity="warning")
            return False
        return True

    def _sheet(self, key: str) -> Sheet:
        assert self.session is not None
        return self.session.registry.by_number(int(key))

    def request_review(self, key: str) -> None:
        if self._allowed("request-review"):
            self.run_request_review(key)

    @work(thread=True, exclusive=True, group="production", exit_on_error=False, name="review")
    def run_request_review(self, key: str) -> tuple[str, SeverityLevel]:
        assert self.session is not None
        entry = deploy.request_review(self.session, key)
        return (
            f"review requested for sheet {key} ({entry.event_id}): staging "
            f"{entry.hashes['staging'][:12]} against production "
            f"{entry.hashes['production'][:12]}; a practice manager approves it with the a key",
            "information",
        )

    def approve(self, key: str) -> None:
        """`a`: the approval modal opens at once ("checking…"), the worker fills it in."""
        if not self._allowed("approve"):
            return
        sheet = self._sheet(key)
        screen = ApprovalScreen(f"Approve a deploy of sheet {sheet.key} to production")
        self.push_screen(screen)
        self.call_after_refresh(self._approve_when_shown, key, screen)

    def _approve_when_shown(self, key: str, screen: ApprovalScreen) -> None:
        """V8 starts (on this thread, for the staging tests) once the modal is on screen."""
        if screen.answered.is_set():  # closed before anything was checked
            return
        if self._engine_started():
            self.run_approve(key, screen)
        else:
            screen.refuse("staging tests cannot run: V8 did not start; nothing was approved")

    @work(thread=True, exclusive=True, group="production", exit_on_error=False, name="approve")
    def run_approve(self, key: str, screen: ApprovalScreen) -> tuple[str, SeverityLevel]:
        assert self.session is not None
        try:
            entry = deploy.approve(self.session, key, self._asking(screen))
        except Exception as error:
            if screen.proposal is None and screen.is_attached:  # refused before it asked
                self.call_from_thread(screen.refuse, _describe(error))
                return "", "information"
            return _describe(error), "warning"
        days = self.config.deploy.approval_expiry_days
        return (
            f"approved sheet {key} ({entry.event_id}) for these exact hashes; D deploys it "
            f"(used up by one deploy, lapses after {days:g} days)",
            "information",
        )

    def _asking(self, screen: ApprovalScreen) -> deploy.Approver:
        """The pipeline's approver, run in a worker: show the proposal, wait for the answer."""

        def ask(proposal: deploy.Proposal) -> bool:
            if screen.answered.is_set():  # closed while the change was being checked: no
                return False
            if not screen.is_attached:
                self.call_from_thread(self.push_screen, screen)
            self.call_from_thread(screen.ask, proposal)
            while not screen.answered.wait(0.5):
                if not self.is_running:  # the app is gone (quit, hang-up): that is a no
                    return False
            return screen.answer

        return ask

    def _approver(self, title: str, action: str) -> deploy.Approver:
        """An approver that opens a fresh approval modal when the pipeline asks."""

        def ask(proposal: deploy.Proposal) -> bool:
            return self._asking(ApprovalScreen(title, action))(proposal)

        return ask

    def start_deploy(self, keys: Sequence[str], marked: bool) -> None:
        """`D`: the highlighted sheet (approved inline when it has no approval), or the marked
        sheets that hold approvals; the steps show live."""
        if self.session is None or not (self._allowed("deploy") and self._engine_started()):
            return
        reviews = {key: deploy.open_review(self.session, self._sheet(key)) for key in keys}
        if marked:
            ready = [key for key in keys if reviews[key].approval is not None]
            unapproved = [
                deploy.DeployResult(
                    self._sheet(key),
                    "refused",
                    "no approval: marked sheets deploy only what a practice manager approved "
                    "(a), or deploy it alone (D without marks) to approve inline",
                    5,
                )
                for key in keys
                if key not in ready
            ]
            self._deploy_with_steps(ready, None, unapproved)
            return
        key = keys[0]
        sheet, approval = self._sheet(key), reviews[key].approval
        if approval is None:
            approver = self._approver(
                f"Approve a deploy of sheet {sheet.key} to production", "deploy"
            )
            self._deploy_with_steps([key], approver, [])
            return

        def confirmed(go: bool | None) -> None:
            if go:
                self._deploy_with_steps([key], None, [])

        self.push_screen(
            ConfirmScreen(
                f"Deploy sheet {sheet.key} {sheet.name} to production?",
                f"Approved by {approval.user} at {short_time(approval.time)} for staging "
                f"{approval.hashes.get('staging', '')[:12]} against production "
                f"{approval.hashes.get('production', '')[:12]}. If either moved since, the "
                "deploy stops as stale.",
                "Deploy",
            ),
            confirmed,
        )

    def _deploy_with_steps(
        self,
        keys: list[str],
        approver: deploy.Approver | None,
        refused: list[deploy.DeployResult],
    ) -> None:
        assert self.session is not None
        session = self.session
        count = len(keys) + len(refused)
        title = (
            f"Deploy sheet {keys[0]} to production"
            if count == 1 and keys
            else f"Deploy {count} sheets to production, one after another"
        )
        screen = StepsScreen(title, keys, decided=refused)
        self.push_screen(screen)
        if not keys:  # every marked sheet refused: the screen shows why
            return
        self.run_production(
            screen, lambda progress: deploy.deploy(session, keys, approver, progress), refused
        )

    def open_rollback(self, key: str | None) -> None:
        """`b`: backup points of the sheet (None: of every sheet), newest first."""
        if self.session is None:
            return
        try:
            points = rollback.rollback_points(self.session, key)
        except SheetstageError as error:
            self.notify(str(error), severity="error", timeout=10)
            return
        if isinstance(self.screen, RollbackScreen):
            self.screen.show(points, key)
        else:
            self.push_screen(RollbackScreen(points, key))

    def _refresh_rollback(self) -> None:
        """Back on the backup points after a rollback: it took a backup of what it replaced."""
        if isinstance(self.screen, RollbackScreen):
            self.open_rollback(self.screen.sheet)

    def start_rollback(self, tag: str) -> None:
        staging = tag.startswith("staging-backup-")
        if self.session is None or not (
            self._allowed("rollback-staging" if staging else "rollback") and self._engine_started()
        ):
            return
        session = self.session
        sheet = tag.rsplit("-sheet-", 1)[-1]
        where = "DEV3" if staging else "production"
        screen = StepsScreen(f"Roll back {where} of sheet {sheet} to {tag}", [sheet], "restore")
        self.push_screen(screen, lambda _: self._refresh_rollback())
        approver = self._approver(f"Roll back {where} of sheet {sheet} to {tag}", "rollback")
        point = self._sheet(sheet)
        self.run_production(
            screen,
            lambda shown: [
                rollback.rollback(session, tag, approver, lambda step: shown(point, step))
            ],
        )

    def revert(self, key: str) -> None:
        """`X`: production back to its baseline (the last deployed content)."""
        if self.session is None or not (self._allowed("revert") and self._engine_started()):
            return
        session = self.session
        sheet = self._sheet(key)
        title = f"Revert production of sheet {sheet.key} to its last deployed content"
        screen = StepsScreen(title, [sheet.key], "restore")
        self.push_screen(screen)
        approver = self._approver(title, "revert")
        self.run_production(
            screen,
            lambda shown: [
                rollback.revert(session, key, approver, lambda step: shown(sheet, step))
            ],
        )

    @work(thread=True, exclusive=True, group="production", exit_on_error=False, name="deploy")
    def run_production(
        self,
        screen: StepsScreen,
        work: ProductionWork,
        refused: Sequence[deploy.DeployResult] = (),
    ) -> tuple[str, SeverityLevel]:
        """A deploy or a way back, its steps shown live on `screen`, its results at the end."""
        clock = [time.monotonic()]

        def progress(sheet: Sheet, outcome: deploy.StepOutcome) -> None:
            now = time.monotonic()
            seconds, clock[0] = now - clock[0], now
            # showing a step must never stop the pipeline (between deploy and verify, say)
            with contextlib.suppress(Exception):
                if self.is_running and screen.is_attached:
                    self.call_from_thread(screen.step_done, sheet.key, outcome, seconds)

        try:
            results = work(progress)
        except Exception as error:
            self.call_from_thread(screen.done, [], [f"failed: {_describe(error)}"])
            raise
        notes = [problem for r in results for problem in r.problems]
        self.call_from_thread(screen.done, [*refused, *results], notes)
        return "", "information"

    def adopt(self, key: str) -> None:
        """`A`: production's edit copied into DEV3 (after a staging backup)."""
        if not self._allowed("adopt"):
            return
        sheet = self._sheet(key)

        def confirmed(go: bool | None) -> None:
            if go:
                self.run_settle(lambda session: rollback.adopt(session, key))

        self.push_screen(
            ConfirmScreen(
                f"Adopt production's edit of sheet {sheet.key} into DEV3?",
                "DEV3's code is backed up first (a staging-backup tag), then replaced by "
                "production's, ids mapped back to DEV3's; the baseline becomes production as "
                "it is. Production is not touched.",
                "Adopt",
            ),
            confirmed,
        )

    def accept(self, key: str) -> None:
        """`c`: a practice manager makes production as it is the new baseline, with a reason."""
        if not self._allowed("accept"):
            return
        sheet = self._sheet(key)

        def given(reason: str | None) -> None:
            if reason:
                self.run_settle(lambda session: rollback.accept(session, key, reason))

        self.push_screen(
            ReasonScreen(
                f"Accept production's edit of sheet {sheet.key} as its new baseline?",
                "Production stays as it is and stops counting as edited outside sheetstage. "
                "The reason goes to the audit trail.",
                "Accept",
            ),
            given,
        )

    @work(thread=True, exclusive=True, group="production", exit_on_error=False, name="settle")
    def run_settle(self, act: Callable[[Session], deploy.Settled]) -> tuple[str, SeverityLevel]:
        assert self.session is not None
        settled = act(self.session)
        return settled.message, "information" if settled.exit_code == 0 else "warning"

    def open_activity(self, alerts_first: bool = False) -> None:
        """`l`: the merged trails and the active alerts, and whether the trails verify."""
        if self.session is None:
            return
        report = self.session.verify()
        self.push_screen(
            ActivityScreen(
                activity.merged_trails(report),
                activity.active_alerts(self.session.workspace),
                report.summary(),
                report.ok,
                alerts_first,
            )
        )

    def open_health(self) -> None:
        """`m`: the metrics from the trails at once, the health checks (Google, git) in the
        background, the panel saying "checking…" until they end."""
        if self.session is None:
            return
        screen = HealthScreen(self._metrics())
        self.push_screen(screen)
        self.run_health(screen)

    def check_health(self) -> None:
        """`r` on the panel: every check again, and the metrics read again."""
        screen = self.screen
        if not isinstance(screen, HealthScreen):
            return
        if any(w.group == "health" and w.is_running for w in self.workers):
            self.notify("the health checks are still running", severity="warning")
            return
        screen.show_checking()
        screen.show_metrics(self._metrics())
        self.run_health(screen)

    def _metrics(self) -> metrics.MetricsReport | str:
        assert self.session is not None
        try:
            return metrics.for_session(self.session, None)
        except SheetstageError as error:
            return str(error)

    @work(thread=True, exclusive=True, group="health", exit_on_error=False, name="health")
    def run_health(self, screen: HealthScreen) -> health.HealthReport | None:
        """Every check of `sheetstage health`, off the UI thread (permissions of every Drive
        file, git fsck); the outcome lands on `screen` while it is still shown."""
        assert self.session is not None

        def shown(show: Callable[..., None], *args: object) -> None:
            with contextlib.suppress(Exception):  # the panel closed, or the app is ending
                if self.is_running and screen.is_attached:
                    self.call_from_thread(show, *args)

        try:
            report = health.run_health(self.session)
        except Exception as error:
            shown(screen.show_failure, _describe(error))
            raise
        shown(screen.show_health, report)
        return report

    def _begin_job(
        self, action: str, busy_groups: tuple[str, ...], keys: Sequence[str] | None, label: str
    ) -> bool:
        """Checks shared by the background jobs: the role allows it and none is running; then
        the sheet list shows the job."""
        if self.session is None:
            return False
        try:
            self.session.require(action)
        except SheetstageError as error:
            self.notify(str(error), severity="error", timeout=8)
            return False
        if any(w.group in busy_groups and w.is_running for w in self.workers):
            busy = "a snapshot" if busy_groups == ("snapshot",) else "a background job"
            self.notify(f"{busy} is already running", severity="warning")
            return False
        screen = self.sheets_screen
        if screen is not None:
            screen.job_started(keys, label)
        return True

    def _engine_started(self) -> bool:
        """V8 starts here, on the main thread, before a worker runs tests (started in a worker
        it crashes the process later)."""
        try:
            scripttests.start_engine()
        except Exception as error:  # V8 missing or broken: a message, not a crashed TUI
            self.notify(f"staging tests cannot start V8: {_describe(error)}", severity="error")
            return False
        return True

    def start_validation(self, keys: Sequence[str]) -> None:
        count = f"{len(keys)} sheet{'s' if len(keys) != 1 else ''}"
        if (
            keys
            and self._engine_started()  # validation runs the staging tests too
            and self._begin_job(
                "validate", ("snapshot", "validate", "tests"), keys, f"validating {count}…"
            )
        ):
            self.run_validation(list(keys))

    @work(thread=True, exclusive=True, group="validate", exit_on_error=False, name="validate")
    def run_validation(self, keys: list[str]) -> list[validation.SheetValidation]:
        assert self.session is not None

        def progress(done: int, total: int, result: validation.SheetValidation) -> None:
            label = f"validate {done}/{total} · {result.sheet.key} {result.phi}"
            self.post_message(JobProgress(done, total, result.sheet.key, not result.ok, label))

        return validation.validate(self.session, keys, progress)

    def start_snapshot(self, keys: Sequence[str] | None) -> None:
        what = "all sheets" if keys is None else f"{len(keys)} sheet{'s' if len(keys) != 1 else ''}"
        if self._begin_job("snapshot", ("snapshot",), keys, f"snapshot of {what}…"):
            self.run_snapshot(list(keys) if keys is not None else None)

    @work(thread=True, exclusive=True, group="snapshot", exit_on_error=False, name="snapshot")
    def run_snapshot(self, keys: list[str] | None) -> jobs.JobResult:
        assert self.session is not None

        def progress(done: int, total: int, fetched: Fetched) -> None:
            label = f"snapshot {done}/{total} · {fetched}"
            self.post_message(
                JobProgress(done, total, fetched.sheet.key, bool(fetched.error), label)
            )

        def phase(text: str) -> None:
            self.post_message(JobPhase(f"snapshot · {text}"))

        return jobs.run_snapshot(self.session, list(Environment), keys, progress, phase)

    def start_tests(self, keys: Sequence[str]) -> None:
        count = f"{len(keys)} sheet{'s' if len(keys) != 1 else ''}"
        # the tests read DEV3 code and data and record per sheet: not while either changes
        busy = ("snapshot", "validate", "testdata", "tests")
        if (
            keys
            and self._engine_started()
            and self._begin_job("test", busy, keys, f"staging tests of {count}…")
        ):
            self.run_tests(list(keys))

    @work(thread=True, exclusive=True, group="tests", exit_on_error=False, name="tests")
    def run_tests(self, keys: list[str]) -> list[scripttests_job.SheetTests]:
        assert self.session is not None

        def progress(done: int, total: int, result: scripttests_job.SheetTests) -> None:
            label = f"tests {done}/{total} · {result.sheet.key} {result.status}"
            self.post_message(JobProgress(done, total, result.sheet.key, not result.passed, label))
            if not result.passed:
                message = f"{result.sheet.key} {result.sheet.name}: tests {result.summary}"
                self.call_from_thread(self.notify, message, severity="error", timeout=12)

        return scripttests_job.run_tests(self.session, keys, None, progress)

    def _report_tests(self, results: list[scripttests_job.SheetTests]) -> None:
        tally = {status: 0 for status in ("passed", "failed", "error", "none")}
        for result in results:
            tally[result.status] += 1
        words = {"passed": "passed", "failed": "failed", "error": "not run", "none": "no tests"}
        parts = [f"{tally[s]} {word}" for s, word in words.items() if tally[s]]
        sheets = f"{len(results)} sheet{'s' if len(results) != 1 else ''}"
        severity = "information" if tally["failed"] + tally["error"] == 0 else "warning"
        self.notify(f"staging tests of {sheets}: {', '.join(parts)}", severity=severity, timeout=8)

    def ask_test_data(self, keys: Sequence[str]) -> None:
        """`g`: how many patients, then generate in the background."""
        if self.session is None or not keys:
            return
        try:
            self.session.require("generate-test-data")  # before asking anything
        except SheetstageError as error:
            self.notify(str(error), severity="error", timeout=8)
            return
        settings = self.config.test_data

        def chosen(patients: int | None) -> None:
            if patients is not None:
                self.start_test_data(keys, patients)

        self.push_screen(TestDataScreen(list(keys), settings.patients, settings.max_rows), chosen)

    def start_test_data(self, keys: Sequence[str], patients: int) -> None:
        count = f"{len(keys)} sheet{'s' if len(keys) != 1 else ''}"
        label = f"test data for {count} ({patients} patients each)…"
        if self._begin_job("generate-test-data", ("snapshot", "testdata", "tests"), keys, label):
            self.run_test_data(list(keys), patients)

    @work(thread=True, exclusive=True, group="testdata", exit_on_error=False, name="test data")
    def run_test_data(self, keys: list[str], patients: int) -> list[testdata_job.SheetTestData]:
        assert self.session is not None

        def progress(done: int, total: int, result: testdata_job.SheetTestData) -> None:
            label = f"test data {done}/{total} · {result.sheet.key}"
            self.post_message(JobProgress(done, total, result.sheet.key, not result.ok, label))
            severity = "information" if result.ok else "error"
            self.call_from_thread(self.notify, result.describe(), severity=severity, timeout=10)

        return testdata_job.generate_test_data(self.session, keys, patients, progress=progress)

    @on(JobProgress)
    def _job_progress(self, message: JobProgress) -> None:
        screen = self.sheets_screen
        if screen is not None:
            screen.job_progress(
                message.done, message.total, message.key, message.failed, message.label
            )

    @on(JobPhase)
    def _job_phase(self, message: JobPhase) -> None:
        screen = self.sheets_screen
        if screen is not None:
            screen.job_phase(message.label)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's end lands here: results and failures become visible, never a trace."""
        worker = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker.group == "production":
            self.reload()
            if event.state is WorkerState.ERROR:
                self.notify(_describe(worker.error), severity="error", timeout=12)
            elif event.state is WorkerState.SUCCESS and worker.result and worker.result[0]:
                message, severity = worker.result
                self.notify(message, severity=severity, timeout=12)
            return
        if worker.group not in BACKGROUND_JOBS:
            if event.state is WorkerState.ERROR:
                self.notify(_describe(worker.error), severity="error", timeout=10)
            return
        self.reload()
        screen = self.sheets_screen
        if screen is not None:
            screen.job_finished()
        if event.state is WorkerState.ERROR:
            self.notify(
                f"{worker.group} failed: {_describe(worker.error)}", severity="error", timeout=10
            )
        elif event.state is WorkerState.SUCCESS and worker.group == "validate":
            self._report_validation(worker.result or [])
        elif event.state is WorkerState.SUCCESS and worker.group == "tests":
            self._report_tests(worker.result or [])
        elif event.state is WorkerState.SUCCESS and worker.group == "testdata":
            results = worker.result or []
            filled = sum(1 for r in results if r.ok)
            self.notify(f"test data: {filled} of {len(results)} sheets filled", timeout=6)
        elif event.state is WorkerState.SUCCESS:
            self._report(worker.result)

    def _report_validation(self, results: list[validation.SheetValidation]) -> None:
        passed = sum(1 for r in results if r.ok)
        self.notify(f"validate: {passed} of {len(results)} sheets pass", timeout=6)
        for result in [r for r in results if not r.ok][:5]:
            why = "; ".join([f"PHI {result.phi}", *result.problems[:2]])
            self.notify(f"{result.sheet.key}: {why}", severity="error", timeout=12)

    def _report(self, result: jobs.JobResult | None) -> None:
        if result is None:
            return
        report = result.report
        commit = report.commit[:8] if report.commit else "nothing to commit"
        self.notify(
            f"snapshot: {len(report.changed)} changed, {len(report.failures)} failed · {commit}",
            timeout=6,
        )
        for failure in report.failures[:5]:
            self.notify(
                f"{failure.env} {failure.sheet.key} failed: {failure.reason}",
                severity="error",
                timeout=12,
            )
        for alert in result.to_report[:5]:
            self.notify(f"ALERT {alert.kind}: {alert.message}", severity="warning", timeout=12)
        if len(result.to_report) > 5:
            more = len(result.to_report) - 5
            self.notify(f"{counted(more, 'more alert')}: l shows them all", severity="warning")
        if self.session is not None:
            jobs.reported(self.session, result.to_report)
        for notice in result.notices[:3]:
            self.notify(notice, timeout=10)
        for problem in result.problems[:3]:
            self.notify(problem, severity="warning", timeout=12)


def _describe(error: BaseException | None) -> str:
    if isinstance(error, SheetstageError):
        return str(error)
    if error is None:
        return "unknown error"
    return f"{type(error).__name__}: {error}"
