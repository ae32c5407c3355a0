"""The seed's five metrics to track (DESIGN.md "Recovery and operations"), from the trails.

Pure over an `AuditReport` (what `audit.verify` read and checked) and the roles file: nothing
here reads Google, git or the disk. Only intact trails count (a trail that does not verify is
left out and named), the legacy `audit/audit.jsonl` never does (anyone could have written it),
and a line counts only when its author holds, by `roles.toml` now, a role that may do what it
records (a developer's own trail saying "deploy ok" proves nothing).

Times in the trail are UTC; a week is an ISO week (Monday to Sunday, UTC). The window runs from
`since` (00:00 UTC) to `now`; by default the twelve ISO weeks ending with this one. Weeks
before the first line of any trail are "no data", never zero, and so is every metric of a
window that holds no line at all (nothing was observed: not even a snapshot ran).

The five, each with its value over the whole window and one value per week:

- Snapshot success rate (target > 99%): projects checked without a failed fetch over projects
  checked, summed over `snapshot` lines (their `checked` and `failed` hashes; older lines only
  say it in `detail`, "production: 235 checked, 12 fetched, 0 changed, 1 failed; staging:
  ...", which is read instead).
- Deployment frequency (target weekly): `deploy` lines with result ok, per week over the days
  of the window the trails cover; met when every such week had one (this week is not over: it
  is left out while it has none).
- PHI false positives (target < 5%): of the findings first flagged in the window, the share
  acknowledged. A finding is one finding id (`Scanner.finding_id`: the kind, the file and the
  value, wherever it recurs: one acknowledgement covers it everywhere). "All findings" are the
  distinct ids that `validate` lines list in their `review` and `block` hashes (review and
  block findings, acknowledged or not), each counted once, in the week a validation first
  listed it. "Acknowledged" ones are those a practice manager acknowledged (`acknowledge`) or a
  developer allowed inline with a reason (`allow-phi`), by now: both say the scanner flagged
  something that is not patient data. Block findings cannot be acknowledged but are findings
  all the same. An acknowledged id that no listing validation flagged is not counted (its
  validation is older than the lists); with no listing validation at all there is no data.
- Rollback frequency (target < 1 a month): `rollback` (of production) and `revert` lines with
  result ok, and `deploy` lines with result rolled-back (a failed verify restored the backup),
  per 30 days of the window the trails cover.
- Changes through staging (target >= 50%): the seed's "time saved vs. direct production edits
  (50%+)" cannot be measured from the trails, which record no one's time; it is read as the
  share of the changes reaching production that went through staging: ok deploys over ok
  deploys plus direct production edits (`alert` lines with result prod-modified, each distinct
  edit once, in the week it was first seen: by the alert's `key` hash, else by its sheets and
  detail, which name who edited and when).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from services.access import CAPABILITIES, RolesFile, read_roles
from services.audit import AuditEntry, AuditReport
from services.errors import UsageError
from services.progress import counted

if TYPE_CHECKING:
    from services.session import Session

DEFAULT_WEEKS = 12
BARS = "▁▂▃▄▅▆▇█"
SHARE, COUNT = "share", "count"

_SNAPSHOT_DETAIL = re.compile(
    r"\b(?:production|staging): (?P<checked>\d+) checked, \d+ fetched, \d+ changed, "
    r"(?P<failed>\d+) failed"
)
_EDIT_STATE = re.compile(r"\s*\((?:prod-modified|diverged)\)\s*$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Metric:
    # snapshot_success, deploy_frequency, phi_false_positives, rollback_frequency, through_staging
    key: str
    title: str
    # None: nothing to measure in the window ("no data", never 0% or 100%): no snapshot, no
    # finding, no deploy or edit for the shares; no trail line at all for the rates
    value: float | None
    shown: str
    target: str
    met: bool | None  # None when there is no data
    weekly: list[float | None]  # one value per ISO week of the window, oldest first
    unit: str = SHARE  # SHARE: value and weekly are fractions; COUNT: weekly are event counts

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "value": _rounded(self.value),
            "shown": self.shown,
            "target": self.target,
            "met": self.met,
            "unit": self.unit,
            "weekly": [_rounded(v) for v in self.weekly],
        }

    @property
    def verdict(self) -> str:
        """Text and glyph, never colour alone."""
        return {True: "✓ met", False: "✗ NOT MET", None: "? no data"}[self.met]

    def cell(self, value: float | None) -> str:
        """One weekly value as the table shows it."""
        if value is None:
            return "no data"
        return _percent(value) if self.unit == SHARE else f"{value:g}"


@dataclass
class MetricsReport:
    since: date
    until: date
    weeks: list[date]  # each week's Monday
    metrics: list[Metric]
    left_out: list[str] = field(default_factory=list)  # trails that do not verify, described
    notes: list[str] = field(default_factory=list)

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)

    def lines(self) -> list[str]:
        """The command line's report: each metric with its value, target and verdict; what was
        left out; then the weekly table, one row a week."""
        out = [
            f"metrics from {self.since} to {self.until} "
            f"({counted(len(self.weeks), 'ISO week')}, UTC)"
        ]
        out += [f"left out, does not verify: {problem}" for problem in self.left_out]
        out += [f"note: {note}" for note in self.notes]
        out.append("")
        for m in self.metrics:
            out.append(f"{m.verdict:<10} {m.title}: {m.shown}; target {m.target}")
        out.append("")
        headers = ["week of", *(_COLUMNS[m.key] for m in self.metrics)]
        rows = [
            [str(monday), *(m.cell(m.weekly[i]) for m in self.metrics)]
            for i, monday in enumerate(self.weeks)
        ]
        widths = [max(len(r[c]) for r in [headers, *rows]) for c in range(len(headers))]
        for row in [headers, *rows]:
            cells = [row[0].ljust(widths[0])] + [
                cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
            ]
            out.append("  ".join(cells).rstrip())
        if self.weeks and self.until < self.weeks[-1] + timedelta(days=6):
            out.append(f"(the week of {self.weeks[-1]} is not over: counted to {self.until})")
        return out

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "weeks": [w.isoformat() for w in self.weeks],
            "metrics": [m.as_json() for m in self.metrics],
            "left_out": self.left_out,
            "notes": self.notes,
        }


_COLUMNS = {
    "snapshot_success": "snapshots ok",
    "deploy_frequency": "deploys",
    "phi_false_positives": "PHI false pos.",
    "rollback_frequency": "rollbacks",
    "through_staging": "via staging",
}


def sparkline(values: Sequence[float | None]) -> str:
    """One bar a value, from ▁ (zero) to █ (the largest), a space for None: the TUI's trend.
    Bars start at zero, not at the smallest value, so 99.5% and 100% look alike (they are)."""
    known = [max(0.0, v) for v in values if v is not None]
    top = max(known, default=0.0)
    bars = []
    for value in values:
        if value is None:
            bars.append(" ")
        elif top <= 0:
            bars.append(BARS[0])
        else:
            bars.append(BARS[round(max(0.0, value) / top * (len(BARS) - 1))])
    return "".join(bars)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def default_since(now: datetime) -> date:
    """The Monday that makes the window the twelve ISO weeks ending with this one."""
    return monday_of(_utc(now).date()) - timedelta(weeks=DEFAULT_WEEKS - 1)


def parse_since(text: str) -> date:
    """`--since DATE` as the command line gives it (YYYY-MM-DD, a day in UTC)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2025-01-06"
        ) from None


def for_session(session: Session, since: date | None, now: datetime | None = None) -> MetricsReport:
    """The metrics of a session's workspace: its trails as `audit verify` checks them (chains,
    owners, anchors) and its roles file, up to `now` (default: now)."""
    report = session.verify()
    return compute_metrics(report, read_roles(session.workspace), since, now or datetime.now(UTC))


def compute_metrics(
    report: AuditReport, roles: RolesFile, since: date | None, now: datetime
) -> MetricsReport:
    """The five metrics over the intact trails from `since` (00:00 UTC; None: twelve ISO
    weeks) to `now`."""
    now = _utc(now)
    until = now.date()
    if since is None:
        since = default_since(now)
    if since > until:
        raise UsageError(
            f"--since {since} is after today ({until} UTC): give a date on or before today"
        )
    weeks = []
    monday = monday_of(since)
    while monday <= until:
        weeks.append(monday)
        monday += timedelta(weeks=1)
    left_out = [check.describe() for check in report.broken]
    notes = []
    if roles.problem:
        notes.append(f"roles.toml does not count ({roles.problem}): no trail line counts")
    if report.history:
        notes.append(
            f"{counted(len(report.history), 'commit')} in the history did not verify "
            "(`sheetstage audit verify`)"
        )
    if any(check.person is None and check.lines for check in report.checks):
        notes.append("audit/audit.jsonl (the history before per-person trails) is not counted")
    window = _Window.of(report, roles, since, now, weeks)
    metrics = [
        _snapshot_success(window),
        _deploy_frequency(window),
        _phi_false_positives(window),
        _rollback_frequency(window),
        _through_staging(window),
    ]
    return MetricsReport(since, until, weeks, metrics, left_out, notes)


# the window ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    when: datetime
    entry: AuditEntry


@dataclass
class _Window:
    start: datetime
    now: datetime
    weeks: list[date]
    events: list[_Event]  # the lines of people with a role up to now, oldest first
    roles: RolesFile
    first_seen: datetime | None  # the first of them, before the window too
    active: bool  # the window holds one of them: without any, the window has no data

    @classmethod
    def of(
        cls, report: AuditReport, roles: RolesFile, since: date, now: datetime, weeks: list[date]
    ) -> _Window:
        people = {person for person in roles.people if roles.roles_of(person)}
        events = []
        for entry in report.trusted_entries(people):
            when = _parse_time(entry.time)
            if when is not None and when <= now:
                events.append(_Event(when, entry))
        events.sort(key=lambda e: e.when)
        start = datetime(since.year, since.month, since.day, tzinfo=UTC)
        first = events[0].when if events else None
        active = any(start <= e.when for e in events)
        return cls(start, now, weeks, events, roles, first, active)

    def holds(self, when: datetime) -> bool:
        return self.start <= when <= self.now

    def week(self, when: datetime) -> int:
        return (monday_of(when.date()) - self.weeks[0]).days // 7

    def observed(self, index: int) -> bool:
        """The trails existed during this week (and the window holds a line)."""
        end = self.weeks[index] + timedelta(days=7)
        return self.active and self.first_seen is not None and self.first_seen.date() < end

    @property
    def days(self) -> int:
        """Days of the window the trails cover (today counted whole); 0 when the window holds
        no line at all (nothing was observed: no data, not zero events)."""
        if self.first_seen is None or not self.active:
            return 0
        first = max(self.start.date(), self.first_seen.date())
        return (self.now.date() - first).days + 1

    def lines(self, actions: Iterable[str], may: Iterable[str]) -> list[_Event]:
        """Lines in the window of `actions` whose author may do one of `may`."""
        wanted, authors = set(actions), _holders(self.roles, may)
        return [
            e
            for e in self.events
            if self.holds(e.when) and e.entry.action in wanted and e.entry.user in authors
        ]

    def counts(self, events: Iterable[_Event]) -> list[float | None]:
        """Events per week; None for weeks before the trails began (or all of them, when the
        window holds no line)."""
        weekly: list[float | None] = [
            0.0 if self.observed(i) else None for i in range(len(self.weeks))
        ]
        for event in events:
            i = self.week(event.when)
            weekly[i] = (weekly[i] or 0.0) + 1
        return weekly

    def no_trail(self) -> str:
        return "no data (no trail line in the window)"


def _holders(roles: RolesFile, actions: Iterable[str]) -> set[str]:
    wanted = set(actions)
    return {
        person
        for person in roles.people
        if any(wanted & CAPABILITIES[role] for role in roles.roles_of(person))
    }


def _shares(
    window: _Window, parts: Sequence[tuple[datetime, float, float]]
) -> tuple[list[float | None], float, float]:
    """Per week and in total: the sum of numerators over the sum of denominators, each part
    (when, numerator, denominator)."""
    tops = [0.0] * len(window.weeks)
    bottoms = [0.0] * len(window.weeks)
    for when, top, bottom in parts:
        i = window.week(when)
        tops[i] += top
        bottoms[i] += bottom
    weekly = [t / b if b else None for t, b in zip(tops, bottoms, strict=True)]
    return weekly, sum(tops), sum(bottoms)


# the five -----------------------------------------------------------------------------------


def _snapshot_success(window: _Window) -> Metric:
    parts = []
    for event in window.lines(["snapshot"], ["snapshot"]):
        counts = _snapshot_counts(event.entry)
        if counts is not None and counts[0] > 0:
            checked, failed = counts
            parts.append((event.when, float(checked - min(failed, checked)), float(checked)))
    weekly, good, checked = _shares(window, parts)
    value = good / checked if checked else None
    return Metric(
        "snapshot_success",
        "Snapshot success rate",
        value,
        "no data (no snapshot in the window)"
        if value is None
        else f"{_percent(value)} ({int(good)} of {counted(int(checked), 'project')})",
        "> 99%",
        None if value is None else value > 0.99,
        weekly,
    )


def _snapshot_counts(entry: AuditEntry) -> tuple[int, int] | None:
    """(projects checked, projects failed) of one snapshot line."""
    try:
        return int(entry.hashes["checked"]), int(entry.hashes["failed"])
    except (KeyError, ValueError):
        pass
    matches = list(_SNAPSHOT_DETAIL.finditer(entry.detail))
    if not matches:
        return None
    return sum(int(m["checked"]) for m in matches), sum(int(m["failed"]) for m in matches)


_DEPLOYERS = ("deploy", "deploy-approved", "finish-interrupted")


def _ok_deploys(window: _Window) -> list[_Event]:
    return [e for e in window.lines(["deploy"], _DEPLOYERS) if e.entry.result == "ok"]


def _deploy_frequency(window: _Window) -> Metric:
    deploys = _ok_deploys(window)
    weekly = window.counts(deploys)
    days = window.days
    key, title, target = "deploy_frequency", "Deployment frequency", "weekly"
    if not days:
        return Metric(key, title, None, window.no_trail(), target, None, weekly, COUNT)
    value = len(deploys) * 7 / days
    judged = [count for count in weekly if count is not None]
    if judged and judged[-1] == 0 and window.now.date() < window.weeks[-1] + timedelta(days=6):
        judged.pop()  # this week is not over yet
    without = sum(1 for count in judged if count == 0)
    if not judged:
        gaps = "no finished week to judge yet"
    elif without:
        gaps = f"{without} of {counted(len(judged), 'week')} without one"
    else:
        gaps = "one in every week"
    shown = f"{value:.1f} a week ({counted(len(deploys), 'deploy')} in {counted(days, 'day')}; "
    shown += f"{gaps})"
    met = None if not judged else without == 0
    return Metric(key, title, value, shown, target, met, weekly, COUNT)


def _phi_false_positives(window: _Window) -> Metric:
    validators = _holders(window.roles, ["validate"])
    managers = _holders(window.roles, ["acknowledge"])
    first: dict[str, datetime] = {}
    listing = False  # a validation in the window lists its findings
    acknowledged: set[str] = set()
    for event in window.events:
        entry = event.entry
        if entry.action == "validate" and entry.user in validators:
            if "review" not in entry.hashes and "block" not in entry.hashes:
                continue  # from before validations listed their findings
            listing = listing or window.holds(event.when)
            ids = f"{entry.hashes.get('review', '')} {entry.hashes.get('block', '')}".split()
            for finding in ids:
                first.setdefault(finding, event.when)  # events are oldest first
        elif entry.result == "ok" and entry.hashes.get("finding"):
            ack = entry.action == "acknowledge" and entry.user in managers
            if ack or (entry.action == "allow-phi" and entry.user in validators):
                acknowledged.add(entry.hashes["finding"])
    cohort = {f: when for f, when in first.items() if window.holds(when)}
    parts = [(when, 1.0 if f in acknowledged else 0.0, 1.0) for f, when in cohort.items()]
    weekly, false, total = _shares(window, parts)
    value = false / total if total else None
    if value is not None:
        shown = f"{_percent(value)} ({int(false)} of {counted(int(total), 'finding')} acknowledged)"
    elif listing:
        shown = "no data (no finding first flagged in the window)"
    else:
        shown = "no data (no validation in the window lists its findings)"
    return Metric(
        "phi_false_positives",
        "PHI false positives",
        value,
        shown,
        "< 5%",
        None if value is None else value < 0.05,
        weekly,
    )


def _rollback_frequency(window: _Window) -> Metric:
    restores = [
        e
        for e in window.lines(["rollback", "revert"], ["rollback", "revert", "finish-interrupted"])
        if e.entry.result == "ok"
    ]
    automatic = [e for e in window.lines(["deploy"], _DEPLOYERS) if e.entry.result == "rolled-back"]
    events = restores + automatic
    weekly = window.counts(events)
    days = window.days
    key, title, target = "rollback_frequency", "Rollback frequency", "< 1 a month"
    if not days:
        return Metric(key, title, None, window.no_trail(), target, None, weekly, COUNT)
    value = len(events) * 30 / days
    shown = f"{value:.1f} a month ({counted(len(events), 'rollback')} in {counted(days, 'day')}"
    shown += f", {len(automatic)} automatic after a failed verify)" if automatic else ")"
    return Metric(key, title, value, shown, target, value < 1, weekly, COUNT)


def _through_staging(window: _Window) -> Metric:
    deploys = _ok_deploys(window)
    seen: dict[str, datetime] = {}
    watchers = _holders(window.roles, ["snapshot"])  # alerts are raised by snapshot runs
    for event in window.events:
        entry = event.entry
        if entry.action != "alert" or entry.result != "prod-modified" or entry.user not in watchers:
            continue
        key = entry.hashes.get("key") or f"{entry.sheets}:{_EDIT_STATE.sub('', entry.detail)}"
        seen.setdefault(key, event.when)
    edits = [when for when in seen.values() if window.holds(when)]
    parts = [(e.when, 1.0, 1.0) for e in deploys] + [(when, 0.0, 1.0) for when in edits]
    weekly, through, total = _shares(window, parts)
    value = through / total if total else None
    shown = (
        "no data (no deploy and no production edit in the window)"
        if value is None
        else f"{_percent(value)} ({counted(len(deploys), 'deploy')}, "
        f"{counted(len(edits), 'direct production edit')})"
    )
    return Metric(
        "through_staging",
        "Changes through staging",
        value,
        shown,
        "≥ 50%",
        None if value is None else value >= 0.5,
        weekly,
    )


# small helpers ------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_time(stamp: str) -> datetime | None:
    try:
        return datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _percent(value: float) -> str:
    """One decimal; never 100.0% for less than all, never 0.0% for more than none."""
    text = f"{value * 100:.1f}%"
    if text == "100.0%" and value < 1:
        return "99.9%"
    if text == "0.0%" and value > 0:
        return "0.1%"
    return text


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
