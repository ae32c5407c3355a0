"""What happened, newest first: every trail's lines merged, and the active alerts, with the
filters the activity screen offers (sheet, person, action)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.audit import AuditReport
from services.state import State
from services.workspace import Workspace


@dataclass(frozen=True)
class Activity:
    time: str  # UTC, as the trail wrote it
    user: str
    action: str
    sheets: tuple[int, ...]
    result: str
    detail: str
    trail: str  # audit/NAME.jsonl
    trusted: bool  # the trail verifies: the line counts


@dataclass(frozen=True)
class ActiveAlert:
    since: str
    kind: str
    sheets: tuple[int, ...]
    message: str


def merged_trails(report: AuditReport) -> list[Activity]:
    """Every line of every trail (legacy history included), newest first. Lines of a trail
    that does not verify are listed too, marked untrusted: a reader sees what they claim."""
    intact = report.intact_people()
    lines = []
    for name, trail in report.files.items():
        trusted = trail.person is not None and trail.person in intact
        for entry in trail.entries():
            lines.append(
                Activity(
                    entry.time,
                    entry.user,
                    entry.action,
                    entry.sheets,
                    entry.result,
                    entry.detail,
                    f"audit/{name}",
                    trusted and entry.user == trail.person,
                )
            )
    return sorted(lines, key=lambda a: (a.time, a.trail), reverse=True)


def active_alerts(workspace: Workspace) -> list[ActiveAlert]:
    """The alerts state.json holds as active (what `sheetstage alerts` lists), newest first."""
    alerts = []
    for key, record in State.load(workspace).alerts.items():
        sheets = record.get("sheets") or _sheets_in_key(key)
        alerts.append(
            ActiveAlert(
                str(record.get("since", "")),
                str(record.get("kind", key.split(":")[0])),
                tuple(int(s) for s in sheets),
                str(record.get("message", key)),
            )
        )
    return sorted(alerts, key=lambda a: (a.since, a.kind), reverse=True)


def _sheets_in_key(key: str) -> list[int]:
    """`prod-modified:031:abc…`: the sheet numbers an alert key names."""
    return [int(part) for part in key.split(":")[1:] if re.fullmatch(r"\d{3}", part)]


@dataclass(frozen=True)
class ActivityFilter:
    """Words of a query, each a sheet number, a person or an action (or part of a detail);
    every word must match."""

    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, query: str) -> ActivityFilter:
        return cls(tuple(query.lower().split()))

    def keeps(self, user: str, action: str, sheets: Sequence[int], text: str) -> bool:
        return all(self._word(word, user, action, sheets, text) for word in self.words)

    @staticmethod
    def _word(word: str, user: str, action: str, sheets: Sequence[int], text: str) -> bool:
        if word.isdigit():
            return int(word) in sheets
        key, _, value = word.partition(":")
        if value and key in ("user", "who"):
            return user.lower() == value
        if value and key == "action":
            return action.lower().startswith(value)
        return word in user.lower() or word in action.lower() or word in text.lower()

    def activity(self, lines: Sequence[Activity]) -> list[Activity]:
        return [a for a in lines if self.keeps(a.user, a.action, a.sheets, a.detail)]

    def alerts(self, alerts: Sequence[ActiveAlert]) -> list[ActiveAlert]:
        return [a for a in alerts if self.keeps("", a.kind, a.sheets, a.message)]
