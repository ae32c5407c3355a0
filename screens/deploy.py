"""Changing production from the TUI: the approval modal (a typed `yes`), the live steps of a
deploy or rollback with their results, and the small questions around them (a reason, a
confirmation). Screens only show and ask; the app runs the pipeline in a worker."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from screens import glyphs
from services.deploy import (
    RISK_LABELS,
    STEPS,
    DeployResult,
    Proposal,
    Step,
    StepOutcome,
    describe_proposal,
)
from services.diff import unified

APPROVE_VERBS = {"deploy": "approve", "rollback": "roll back", "revert": "revert"}
RESTORE_STEPS = (Step.DIFF, Step.APPROVE, Step.BACKUP, Step.DEPLOY, Step.VERIFY, Step.LOG)

DIALOG_CSS = """
.dialog {
    width: 96%;
    max-width: 110;
    height: auto;
    max-height: 96%;
    border: thick $primary;
    background: $surface;
    padding: 0 1;
}
.dialog-title { text-style: bold; height: auto; }
.dialog-buttons { height: 3; align-horizontal: right; }
.dialog-buttons Button { margin-left: 1; min-width: 10; }
.dialog-status { height: auto; }
"""


class ApprovalScreen(ModalScreen[bool]):
    """The typed `yes`: what is approved (summary, risks, diff stat, who requested it), an
    Input that must read exactly `yes`, and Cancel focused first. Escape, Cancel, an empty
    line or anything else aborts.

    A worker thread waits on `answered`: the screen opens while the change is still being
    checked (`checking`), shows the proposal when the pipeline asks (`ask`), or says why it
    was refused (`refuse`). Closing it any way answers no."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    ApprovalScreen { align: center middle; }
    #approval-body { height: auto; max-height: 14; }
    #approval-row { height: 1; margin-top: 1; }
    #approval-prompt { width: auto; }
    #approval-input { width: 14; height: 1; border: none; padding: 0 1; background: $boost; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("pageup", "scroll(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll(1)", "Scroll down", show=False),
    ]

    def __init__(self, title: str, action: str = "deploy") -> None:
        super().__init__()
        self.title_text = title
        self.verb = APPROVE_VERBS.get(action, action)
        self.answered = threading.Event()
        self.answer = False
        self.proposal: Proposal | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="approval-dialog"):
            yield Static(Text(self.title_text), classes="dialog-title", id="approval-title")
            with VerticalScroll(id="approval-body", can_focus=False):
                yield Static(
                    Text("checking: reading both projects live, validating, staging tests…"),
                    id="approval-summary",
                )
            with Horizontal(id="approval-row"):
                yield Static(f"Type yes to {self.verb}: ", id="approval-prompt")
                yield Input(
                    placeholder="type here",
                    id="approval-input",
                    max_length=8,
                    disabled=True,
                    select_on_focus=False,  # keys typed before the focus lands are kept
                )
            yield Static(
                Text("type yes then enter to approve · enter alone or esc cancels", style="dim"),
                classes="dialog-status",
                id="approval-status",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.verb.capitalize(), variant="error", id="approval-ok")
                yield Button("Cancel", variant="primary", id="approval-cancel")

    def on_mount(self) -> None:
        self.query_one("#approval-ok", Button).disabled = True
        self.query_one("#approval-cancel", Button).focus()

    # what the worker calls (on the app's thread) ------------------------------------------

    def ask(self, proposal: Proposal) -> None:
        """The pipeline asks: show what is approved and open the field (Cancel keeps focus)."""
        if self.answered.is_set() or not self.is_attached:  # closed meanwhile: that was a no
            return
        self.proposal = proposal
        self.query_one("#approval-summary", Static).update(proposal_text(proposal))
        self.query_one("#approval-input", Input).disabled = False
        self.query_one("#approval-ok", Button).disabled = False

    def refuse(self, message: str) -> None:
        """Refused before anything was asked (no request, stale, own request, validation)."""
        if self.answered.is_set() or not self.is_attached:
            return
        self.query_one("#approval-summary", Static).update(
            Text.assemble(("refused: ", glyphs.ALARM), " ", message)
        )
        self.query_one("#approval-row").display = False
        self.query_one("#approval-ok").display = False
        self.query_one("#approval-status", Static).update(Text("esc or enter closes", style="dim"))
        self.query_one("#approval-cancel", Button).label = "Close"
        self.query_one("#approval-cancel", Button).focus()

    def on_key(self, event: events.Key) -> None:
        """Typing goes to the field wherever the focus is: `yes` then enter approves, while a
        lone enter still presses Cancel (the default)."""
        field = self.query_one("#approval-input", Input)
        character = event.character or ""
        if field.disabled or self.focused is field:
            return
        if not character.isprintable() or character.isspace() or not character:
            return  # enter and space press the focused button, as everywhere
        field.focus()
        field.insert_text_at_cursor(character)
        event.stop()
        event.prevent_default()

    # answers --------------------------------------------------------------------------------

    def _answer(self, approved: bool) -> None:
        if self.answered.is_set():  # a second enter or click: answered already
            return
        self.answer = approved
        self.answered.set()
        dismiss_once(self, approved)

    @on(Input.Submitted, "#approval-input")
    def _typed(self, event: Input.Submitted) -> None:
        self._answer(event.value == "yes")

    @on(Button.Pressed, "#approval-ok")
    def _ok(self) -> None:
        self._answer(self.query_one("#approval-input", Input).value == "yes")

    @on(Button.Pressed, "#approval-cancel")
    def action_cancel(self) -> None:
        self._answer(False)

    def action_scroll(self, pages: int) -> None:
        body = self.query_one("#approval-body", VerticalScroll)
        body.scroll_to(y=body.scroll_y + pages * max(1, body.size.height - 1), animate=False)

    def on_unmount(self) -> None:
        if not self.answered.is_set():  # closed by the app (quit, hang-up): that is a no
            self.answered.set()


def dismiss_once(screen: ModalScreen, value: object) -> None:
    """Dismiss only while on top: a second press arriving after the first dismissed the
    screen must not pop the screen below it (the running steps, the sheet list)."""
    if screen.is_attached and screen.app.screen is screen:
        screen.dismiss(value)


def fill_width(room: int, fixed: Sequence[int]) -> int:
    """The last column's width: what `room` leaves after the fixed columns and the cell padding
    (one cell each side), so a table never scrolls sideways for its last column."""
    return max(12, room - sum(fixed) - 2 * (len(fixed) + 1))


def dialog_room(width: int) -> int:
    """Columns inside a dialog on a terminal `width` wide (96%, at most 110, less its frame)."""
    return min(110, width * 96 // 100) - 4


def proposal_text(proposal: Proposal) -> Text:
    """The proposal's lines, with each risk the change adds drawn as a badge; a way back
    shows its whole diff (what production becomes)."""
    text = Text("\n".join(describe_proposal(proposal)))
    for label in RISK_LABELS.values():
        text.highlight_regex(re.compile(rf"(?<=^    {label}: )(?!none$).+$", re.M), glyphs.ALARM)
    if proposal.action != "deploy":
        text.append("\n")
        for line in unified(proposal.diff, sides=("now", "backup")).splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            text.append("\n" + line, style=style)
    return text


class StepsScreen(ModalScreen[None]):
    """The steps of a deploy (or rollback) as they happen, each with its outcome, time and
    detail; then the result of each sheet. Closes only when the work is done."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    StepsScreen { align: center middle; }
    #steps-table { height: auto; max-height: 12; }
    #steps-results { height: auto; max-height: 7; margin-top: 1; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(
        self,
        title: str,
        sheets: Sequence[str],
        kind: str = "deploy",
        decided: Sequence[DeployResult] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.sheets = list(sheets)
        self.decided = list(decided)  # with no sheet to run: the results, shown at once
        self.steps = STEPS if kind == "deploy" else RESTORE_STEPS
        self.finished = False
        self.results: list[DeployResult] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="steps-dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield DataTable(id="steps-table", cursor_type="none", zebra_stripes=True)
            yield DataTable(id="steps-results", cursor_type="none")
            yield Static(Text("running…", style="bold"), classes="dialog-status", id="steps-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="steps-close", disabled=True)

    def on_mount(self) -> None:
        room = dialog_room(self.app.size.width)
        table = self.query_one("#steps-table", DataTable)
        fixed = (("Sheet", 5), ("Step", 8), ("", 1), ("Time", 6))
        for label, width in (*fixed, ("Detail", fill_width(room, [w for _, w in fixed]))):
            table.add_column(label, key=label.lower() or "mark", width=width)
        results = self.query_one("#steps-results", DataTable)
        results.display = False
        fixed = (("Sheet", 5), ("Outcome", 11), ("Exit", 4))
        for label, width in (*fixed, ("Detail", fill_width(room, [w for _, w in fixed]))):
            results.add_column(label, key=label.lower(), width=width)
        if self.sheets:
            self.sheet_started(self.sheets[0])
        else:
            self.done(self.decided)

    def sheet_started(self, sheet: str) -> None:
        """The sheet's steps, waiting (·), the first one running (⟳)."""
        table = self.query_one("#steps-table", DataTable)
        if f"{sheet}:{self.steps[0]}" in table.rows:
            return
        for index, step in enumerate(self.steps):
            mark = Text("⟳", style="bold") if index == 0 else Text("·", style="dim")
            table.add_row(sheet, str(step), mark, "", "", key=f"{sheet}:{step}")
        table.move_cursor(row=table.row_count - 1, animate=False)

    def step_done(self, sheet: str, outcome: StepOutcome, seconds: float) -> None:
        table = self.query_one("#steps-table", DataTable)
        self.sheet_started(sheet)
        key = f"{sheet}:{outcome.step}"
        if key not in table.rows:
            table.add_row(sheet, str(outcome.step), "", "", "", key=key)
        mark = Text("✓", style="bold green") if outcome.ok else Text("✗", style=glyphs.ALARM)
        table.update_cell(key, "mark", mark)
        table.update_cell(key, "time", f"{seconds:5.1f}s")
        table.update_cell(key, "detail", Text(outcome.detail))
        following = [s for s in self.steps if f"{sheet}:{s}" in table.rows]
        position = following.index(outcome.step) if outcome.step in following else -1
        if outcome.ok and 0 <= position < len(following) - 1:
            table.update_cell(f"{sheet}:{following[position + 1]}", "mark", Text("⟳", "bold"))

    def done(self, results: Sequence[DeployResult], notes: Sequence[str] = ()) -> None:
        """The work ended: each sheet's outcome (a table for several), and Close."""
        self.finished = True
        self.results = list(results)
        table = self.query_one("#steps-table", DataTable)
        for key in list(table.rows):  # steps never reached: not run
            if str(table.get_cell(key, "mark")) in ("⟳", "·"):
                table.update_cell(key, "mark", Text("–", style="dim"))
                table.update_cell(key, "detail", Text("not run", style="dim"))
        if len(results) > 1:
            board = self.query_one("#steps-results", DataTable)
            board.display = True
            for r in results:
                detail = r.backup_tag if r.outcome == "deployed" else r.message
                board.add_row(
                    r.sheet.key,
                    outcome_text(r.outcome),
                    str(r.exit_code),
                    Text(detail),
                    key=r.sheet.key,
                )
        status = Text()
        if len(results) == 1:  # several: the table says it
            status.append_text(outcome_text(results[0].outcome))
            status.append(f"  {results[0].message or results[0].backup_tag}")
        for note in notes:
            status.append(f"\n{note}", style="yellow")
        status.append(("\n" if status else "") + "esc or enter closes", style="dim")
        self.query_one("#steps-status", Static).update(status)
        close = self.query_one("#steps-close", Button)
        close.disabled = False
        close.focus()

    @on(Button.Pressed, "#steps-close")
    def action_close(self) -> None:
        if not self.finished:
            self.notify("still running: production is never left between two states", timeout=4)
            return
        dismiss_once(self, None)


def outcome_text(outcome: str) -> Text:
    good = outcome in ("deployed", "restored", "reverted", "rolled back", "unchanged")
    return Text(outcome, style="bold green" if good else glyphs.ALARM)


class ConfirmScreen(ModalScreen[bool]):
    """A plain question with a default of no (Cancel focused; Escape cancels)."""

    DEFAULT_CSS = DIALOG_CSS + "ConfirmScreen { align: center middle; }"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: str, verb: str) -> None:
        super().__init__()
        self.title_text, self.body, self.verb = title, body, verb

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(Text(self.body))
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.verb, variant="error", id="confirm-ok")
                yield Button("Cancel", variant="primary", id="confirm-cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel", Button).focus()

    @on(Button.Pressed, "#confirm-ok")
    def _ok(self) -> None:
        dismiss_once(self, True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        dismiss_once(self, False)


class ReasonScreen(ModalScreen[str | None]):
    """A reason, required (accepting production's edit as the new baseline)."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    ReasonScreen { align: center middle; }
    #reason-input { height: 3; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: str, verb: str) -> None:
        super().__init__()
        self.title_text, self.body, self.verb = title, body, verb

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(Text(self.body))
            yield Input(placeholder="why production's edit is kept", id="reason-input")
            yield Static("", classes="dialog-status", id="reason-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.verb, variant="error", id="reason-ok")
                yield Button("Cancel", variant="primary", id="reason-cancel")

    def on_mount(self) -> None:
        self.query_one("#reason-input", Input).focus()

    @on(Input.Submitted, "#reason-input")
    @on(Button.Pressed, "#reason-ok")
    def _ok(self) -> None:
        reason = self.query_one("#reason-input", Input).value.strip()
        if not reason:
            self.query_one("#reason-status", Static).update(
                Text("a reason is needed: it goes to the audit trail", style="yellow")
            )
            return
        dismiss_once(self, reason)

    @on(Button.Pressed, "#reason-cancel")
    def action_cancel(self) -> None:
        dismiss_once(self, None)
