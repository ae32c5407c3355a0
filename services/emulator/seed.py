"""Demo data for the emulator: 235 production + 235 DEV3 Apps Script projects of varied,
realistic code, the seeded history (staged changes, production edits by someone else,
diverged sheets, planted synthetic-looking PHI leaks) and the activity-log spreadsheet, with
Google's side of the roles: developers edit DEV3 and only read production; the practice
manager, the scheduler and the production editor edit production; the practice's domain reads
everything and writes the activity log. Production spreadsheets are in one Drive folder, DEV3
ones in another (a bound script lives in its spreadsheet). Two sharing mistakes are planted
for `health` to find: one DEV3 spreadsheet shared with someone outside the dev team, one
production spreadsheet readable by anyone with the link.

Everything is derived from a fixed seed, so two demos are identical. Every person, number and
address here is invented.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.activity_log import HEADER as LOG_HEADER
from services.activity_log import TABS as LOG_TABS
from services.emulator.seed_tests import (
    BREAKING_CHANGE,
    DEMO_PATIENTS,
    STATUSES,
    code_and_tests,
    fill,
    main_tab,
    queue_tab,
    synthetic_patients,
)
from services.emulator.store import EmulatorStore, rfc3339
from services.models import (
    DriftState,
    Environment,
    FileType,
    ScriptFile,
    Sheet,
    content_hash,
)
from services.registry import IdMapper

SHEET_COUNT = 235
DEVELOPER = "developer@practice.example"
SOMEONE_ELSE = "someone.else@practice.example"
MANAGER = "practice.manager@practice.example"
SCHEDULER = "scheduler@practice.example"
PRACTICE_DOMAIN = "practice.example"
OUTSIDER = "temp.contractor@outside-agency.example"  # invented: no one on the dev team
# Google's side of the roles (DESIGN.md "Roles and the shared host"): who may edit what
PRODUCTION_WRITERS = (MANAGER, SCHEDULER, SOMEONE_ELSE)
STAGING_WRITERS = (DEVELOPER, MANAGER)

STAGED = (12, 47, 88, 140, 203)
PROD_MODIFIED = (31, 119, 177)
DIVERGED = (64, 215)
PHI_LEAKS = (150, 199)
SHARED_OUTSIDE = 57  # its DEV3 spreadsheet is shared with OUTSIDER (a planted mistake)
SHARED_WITH_LINK = 93  # its production spreadsheet: anyone with the link reads (planted)
BROKEN_TEST = STAGED[4]  # its staged change stops counting waiting rows; a test still counts them
TIMED_OUT_TEST = 40  # one of its tests waits for a cache key only a trigger would set
TESTED = tuple(sorted({*range(0, SHEET_COUNT, 8), BROKEN_TEST}))  # sheets with staging tests

_BASE_TIME = 1772323200.0  # 2026-03-01T00:00:00Z
_STAGING_EDIT_TIME = 1779100800.0  # 2026-05-18
_PROD_EDIT_TIME = 1779624000.0  # 2026-05-24

_LOCATIONS = ("Main Clinic", "North Campus", "Lakeview", "Westside", "Pediatrics")
_WORKFLOWS = (
    "Patient Check-In",
    "Referral Tracker",
    "Prior Authorization",
    "Lab Results Follow-up",
    "Appointment Reminders",
    "Insurance Verification",
    "Billing Claims",
    "Denials Worklist",
    "Refill Requests",
    "Immunization Log",
    "Supply Inventory",
    "Staff Schedule",
    "No-Show Report",
    "Waitlist",
    "Imaging Orders",
    "Patient Recall",
    "Charge Capture",
    "Copay Reconciliation",
    "Fax Queue",
    "Provider Credentialing",
    "Vaccine Inventory",
    "Quality Measures",
    "Care Gaps",
    "Telehealth Sessions",
    "Intake Forms",
    "Consent Tracking",
    "Transport Requests",
    "Interpreter Requests",
    "Chronic Care Management",
    "Medical Equipment",
    "Controlled Substances Log",
    "Temperature Log",
    "Incident Reports",
    "Patient Feedback",
    "Collections",
    "Payment Plans",
    "Daily Deposit",
    "Petty Cash",
    "Phone Messages",
    "Task Board",
    "Onboarding Checklist",
    "Time Off Requests",
    "Room Turnover",
    "Sterilization Log",
    "Specimen Tracking",
    "Pharmacy Callbacks",
    "Hospital Discharges",
)
_OWNERS = ("front-desk", "billing", "clinical-ops", "nursing", "admin")


def demo_id(kind: str, env: str, number: int) -> str:
    """A Google-shaped, deterministic id: 44 characters for spreadsheets, 57 for scripts."""
    digest = b""
    seed = f"sheetstage-demo/{kind}/{env}/{number}".encode()
    while len(digest) < 64:
        seed = hashlib.sha256(seed).digest()
        digest += seed
    text = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return "1" + text[: 56 if kind == "script" else 43]


def sheet_name(number: int) -> str:
    return f"{_LOCATIONS[number % len(_LOCATIONS)]} — {_WORKFLOWS[number // len(_LOCATIONS)]}"


def demo_sheets() -> list[Sheet]:
    sheets = []
    for n in range(SHEET_COUNT):
        with_patients = n % 3 != 2
        sheets.append(
            Sheet(
                number=n,
                name=sheet_name(n),
                prod_spreadsheet_id=demo_id("spreadsheet", "prod", n),
                prod_script_id=demo_id("script", "prod", n),
                dev3_spreadsheet_id=demo_id("spreadsheet", "dev3", n),
                dev3_script_id=demo_id("script", "dev3", n),
                owner=_OWNERS[n % len(_OWNERS)] + "@practice.example",
                reference_ranges=(patient_tab(n).range,) if with_patients else (),
            )
        )
    return sheets


def log_spreadsheet_id() -> str:
    return demo_id("spreadsheet", "log", 0)


def folder_id(env: Environment) -> str:
    """The Drive folder holding the environment's spreadsheets."""
    return demo_id("folder", "prod" if env is Environment.PRODUCTION else "dev3", 0)


FOLDER_NAMES = {Environment.PRODUCTION: "Production sheets", Environment.STAGING: "DEV3 sheets"}


_CODE = """/**
 * {{TITLE}}
 * Bound script for the "{{TITLE}}" spreadsheet. Owner: {{OWNER}}.
 */
const SPREADSHEET_ID = '{{SPREADSHEET_ID}}';
const MAIN_TAB = '{{TAB}}';
const STATUS_COLUMN = {{STATUS_COL}};
const STALE_AFTER_DAYS = {{STALE_DAYS}};
{{EXTRA_CONSTANTS}}
function onOpen() {
  SpreadsheetApp.getUi()
    .createMenu('{{MENU}}')
    .addItem('Refresh status', 'refreshStatus')
    .addItem('Highlight stale rows', 'highlightStale'){{MENU_ITEMS}}
    .addToUi();
}

function getMainSheet_() {
  return SpreadsheetApp.openById(SPREADSHEET_ID).getSheetByName(MAIN_TAB);
}

function refreshStatus() {
  const sheet = getMainSheet_();
  const rows = sheet.getDataRange().getValues();
  let open = 0;
  for (let i = 1; i < rows.length; i++) {
    const status = String(rows[i][STATUS_COLUMN - 1] || '');
    if (status !== 'Done' && status !== 'Cancelled') {
      open++;
    }
  }
  sheet.getRange('{{SUMMARY_CELL}}').setValue(open + ' open');
  return open;
}

function highlightStale() {
  const sheet = getMainSheet_();
  const rows = sheet.getDataRange().getValues();
  const cutoff = new Date(Date.now() - STALE_AFTER_DAYS * 24 * 60 * 60 * 1000);
  for (let i = 1; i < rows.length; i++) {
    const received = rows[i][0];
    const stale = received instanceof Date && received < cutoff;
    sheet.getRange(i + 1, 1, 1, rows[i].length).setBackground(stale ? '{{STALE_COLOR}}' : null);
  }
}
"""

_SIDEBAR_FN = """
function openSidebar() {
  const html = HtmlService.createHtmlOutputFromFile('Sidebar').setTitle('{{MENU}}');
  SpreadsheetApp.getUi().showSidebar(html);
}
"""

_LOOKUP = """
const LOOKUP_SPREADSHEET_ID = '{{LOOKUP_ID}}';

function lookupOwner_(key) {
  const rows = SpreadsheetApp.openById(LOOKUP_SPREADSHEET_ID).getSheets()[0].getDataRange()
    .getValues();
  const match = rows.find((row) => row[0] === key);
  return match ? match[1] : '';
}
"""

_TRIGGERS = """/** Triggers: edit stamps and the nightly job. */
function onEdit(e) {
  const range = e.range;
  if (range.getSheet().getName() !== MAIN_TAB || range.getColumn() !== STATUS_COLUMN) {
    return;
  }
  range.offset(0, {{STAMP_OFFSET}}).setValue(new Date());
}

function installTriggers() {
  ScriptApp.getProjectTriggers().forEach((t) => ScriptApp.deleteTrigger(t));
  ScriptApp.newTrigger('nightly')
    .timeBased()
    .atHour({{NIGHTLY_HOUR}})
    .everyDays(1)
    .inTimezone('America/Chicago')
    .create();
}

function nightly() {
  refreshStatus();
  highlightStale();{{NIGHTLY_EXTRA}}
}
"""

_VALIDATION = """/** Row validation before a row is marked Done. */
const REQUIRED_COLUMNS = [{{REQUIRED}}];

function validateRow_(row) {
  const problems = [];
  REQUIRED_COLUMNS.forEach((column) => {
    if (row[column - 1] === '' || row[column - 1] === null) {
      problems.push('column ' + column + ' is empty');
    }
  });
  if (row[STATUS_COLUMN - 1] && ['{{STATUSES}}'].indexOf(row[STATUS_COLUMN - 1]) < 0) {
    problems.push('unknown status ' + row[STATUS_COLUMN - 1]);
  }
  return problems;
}

function validateAll() {
  const rows = getMainSheet_().getDataRange().getValues();
  const report = [];
  for (let i = 1; i < rows.length; i++) {
    const problems = validateRow_(rows[i]);
    if (problems.length) {
      report.push('row ' + (i + 1) + ': ' + problems.join(', '));
    }
  }
  return report;
}
"""

_REPORTS = """/** The {{CADENCE}} summary e-mail. */
const REPORT_RECIPIENTS = ['{{MAILBOX}}@practice.example'];

function sendSummary() {
  const open = refreshStatus();
  const subject = '{{TITLE}}: ' + open + ' open item(s)';
  const body = [
    'Open items: ' + open,
    'Sheet: ' + SpreadsheetApp.openById(SPREADSHEET_ID).getUrl(),
  ].join('\\n');
  MailApp.sendEmail(REPORT_RECIPIENTS.join(','), subject, body);
}
"""

_FORMAT = """/** Formatting helpers shared by the other files. */
function formatDate_(value) {
  return Utilities.formatDate(value, 'America/Chicago', '{{DATE_FORMAT}}');
}

function formatMoney_(amount) {
  return '$' + Number(amount || 0).toFixed(2);
}

function initials_(text) {
  return String(text || '')
    .split(/\\s+/)
    .filter(Boolean)
    .map((word) => word[0].toUpperCase())
    .join('');
}
"""

_SYNC = """/** Pushes open counts to the practice dashboard. */
const DASHBOARD_URL = 'https://dashboard.practice.example/api/{{SLUG}}';

function pushToDashboard() {
  const payload = { sheet: '{{SLUG}}', open: refreshStatus(), at: new Date().toISOString() };
  const response = UrlFetchApp.fetch(DASHBOARD_URL, {
    method: 'post',
    contentType: 'application/json',
    payload: JSON.stringify(payload),
    muteHttpExceptions: true,
  });
  return response.getResponseCode();
}
"""

_ARCHIVE = """/** Moves finished rows older than {{ARCHIVE_DAYS}} days to the Archive tab. */
function archiveFinished() {
  const sheet = getMainSheet_();
  const archive = sheet.getParent().getSheetByName('Archive');
  const rows = sheet.getDataRange().getValues();
  const cutoff = new Date(Date.now() - {{ARCHIVE_DAYS}} * 24 * 60 * 60 * 1000);
  for (let i = rows.length - 1; i >= 1; i--) {
    if (rows[i][STATUS_COLUMN - 1] === 'Done' && rows[i][0] < cutoff) {
      archive.appendRow(rows[i]);
      sheet.deleteRow(i + 1);
    }
  }
}
"""

_SIDEBAR_HTML = """<!DOCTYPE html>
<html>
  <head>
    <base target="_top">
    <style>
      body { font-family: Arial, sans-serif; margin: 12px; }
      .count { font-size: 28px; color: {{ACCENT}}; }
    </style>
  </head>
  <body>
    <h3>{{MENU}}</h3>
    <p class="count" id="open">…</p>
    <button onclick="refresh()">Refresh</button>
    <script>
      function refresh() {
        google.script.run.withSuccessHandler(function (n) {
          document.getElementById('open').textContent = n + ' open';
        }).refreshStatus();
      }
      refresh();
    </script>
  </body>
</html>
"""


def _slug(text: str) -> str:
    return "".join(c.lower() if c.isalnum() else "-" for c in text).strip("-").replace("--", "-")


def _base_files(sheet: Sheet, env: Environment, lookup: Sheet | None) -> list[ScriptFile]:
    """The seeded production code of a sheet (env=STAGING: the same code with DEV3 ids)."""
    rng = random.Random(sheet.number * 7919)
    n = sheet.number
    title = sheet.name
    tab = main_tab(sheet)
    has_sidebar = n % 4 == 0
    has_reports = n % 3 == 0
    has_sync = n % 5 == 1
    has_archive = n % 6 == 2
    menu = title.split(" — ")[1]
    menu_items = ""
    if has_sidebar:
        menu_items += "\n    .addItem('Open sidebar', 'openSidebar')"
    if has_reports:
        menu_items += "\n    .addItem('Send summary now', 'sendSummary')"
    extra = ""
    if lookup is not None:
        extra = fill(_LOOKUP, LOOKUP_ID=lookup.spreadsheet_id(env))
    status_column = rng.randint(2, 6)  # seed_tests.status_column draws the same
    stale_days = rng.choice((3, 5, 7, 10, 14, 30))
    summary_cell = f"{'HIJKL'[rng.randint(0, 4)]}1"
    code = fill(
        _CODE,
        TITLE=title,
        OWNER=sheet.owner,
        SPREADSHEET_ID=sheet.spreadsheet_id(env),
        TAB=tab,
        STATUS_COL=status_column,
        STALE_DAYS=stale_days,
        EXTRA_CONSTANTS=extra,
        MENU=menu,
        MENU_ITEMS=menu_items,
        SUMMARY_CELL=summary_cell,
        STALE_COLOR=rng.choice(("#fce8e6", "#fff4e5", "#fdecea", "#fef7e0")),
    )
    if has_sidebar:
        code += fill(_SIDEBAR_FN, MENU=menu)
    if n == 5:
        code = code.replace("\n", "\r\n")  # a CRLF file: the round trip must keep it
    if n == 8:
        code += "\n// Owner notes: café hours changed ✓ — see the front-desk binder.\n"
    files = [ScriptFile("Code", FileType.SERVER_JS, code)]
    nightly_extra = ""
    if has_reports:
        nightly_extra += "\n  sendSummary();"
    if has_archive:
        nightly_extra += "\n  archiveFinished();"
    files.append(
        ScriptFile(
            "Triggers",
            FileType.SERVER_JS,
            fill(
                _TRIGGERS,
                STAMP_OFFSET=rng.randint(1, 4),
                NIGHTLY_HOUR=rng.randint(1, 5),
                NIGHTLY_EXTRA=nightly_extra,
            ),
        )
    )
    if n % 2 == 0:
        required = sorted(rng.sample(range(1, 9), rng.randint(2, 4)))
        statuses = "', '".join(STATUSES[: rng.randint(4, 6)])
        files.append(
            ScriptFile(
                "Validation",
                FileType.SERVER_JS,
                fill(_VALIDATION, REQUIRED=", ".join(map(str, required)), STATUSES=statuses),
            )
        )
    if has_reports:
        files.append(
            ScriptFile(
                "Reports",
                FileType.SERVER_JS,
                fill(
                    _REPORTS,
                    TITLE=title,
                    CADENCE=rng.choice(("daily", "weekly", "twice-daily")),
                    MAILBOX=sheet.owner.split("@")[0],
                ),
            )
        )
    if n % 7 in (0, 3):
        files.append(
            ScriptFile(
                "lib/format",
                FileType.SERVER_JS,
                fill(_FORMAT, DATE_FORMAT=rng.choice(("MM/dd/yyyy", "yyyy-MM-dd", "M/d/yy"))),
            )
        )
    if has_sync:
        files.append(ScriptFile("Sync", FileType.SERVER_JS, fill(_SYNC, SLUG=_slug(title))))
    if has_archive:
        files.append(
            ScriptFile(
                "Archive",
                FileType.SERVER_JS,
                fill(_ARCHIVE, ARCHIVE_DAYS=rng.choice((30, 60, 90, 180))),
            )
        )
    if n == 9:
        files.append(ScriptFile("Notes", FileType.SERVER_JS, ""))  # empty files are kept
    if n in TESTED:
        code_files, test_files = code_and_tests(
            sheet,
            summary_cell=summary_cell,
            reports=has_reports,
            sync=has_sync,
            validation=n % 2 == 0,
            patient_headers=patient_columns(n) if sheet.reference_ranges else None,
            times_out=n == TIMED_OUT_TEST,
        )
        files += code_files + test_files
    if has_sidebar:
        accent = rng.choice(("#1a73e8", "#188038", "#a142f4", "#e37400"))
        files.append(
            ScriptFile("Sidebar", FileType.HTML, fill(_SIDEBAR_HTML, MENU=menu, ACCENT=accent))
        )
    files.insert(0, ScriptFile("appsscript", FileType.JSON, _manifest(files)))
    return files


def _manifest(files: Sequence[ScriptFile]) -> str:
    sources = "\n".join(f.source for f in files)
    scopes = ["https://www.googleapis.com/auth/spreadsheets"]
    if "ScriptApp.newTrigger" in sources:
        scopes.append("https://www.googleapis.com/auth/script.scriptapp")
    if "MailApp" in sources:
        scopes.append("https://www.googleapis.com/auth/script.send_mail")
    if "UrlFetchApp" in sources:
        scopes.append("https://www.googleapis.com/auth/script.external_request")
    if "showSidebar" in sources:
        scopes.append("https://www.googleapis.com/auth/script.container.ui")
    manifest = {
        "timeZone": "America/Chicago",
        "dependencies": {},
        "exceptionLogging": "STACKDRIVER",
        "runtimeVersion": "V8",
        "oauthScopes": scopes,
    }
    return json.dumps(manifest, indent=2)


def _replace_file(files: list[ScriptFile], name: str, source: str) -> list[ScriptFile]:
    return [ScriptFile(f.name, f.type, source) if f.name == name else f for f in files]


def _code_of(files: Sequence[ScriptFile], name: str = "Code") -> str:
    return next(f.source for f in files if f.name == name)


_STAGED_FEATURE = """
/** Staged: count items by status for the new dashboard card. */
function countByStatus() {
  const rows = getMainSheet_().getDataRange().getValues();
  const counts = {};
  for (let i = 1; i < rows.length; i++) {
    const status = String(rows[i][STATUS_COLUMN - 1] || 'New');
    counts[status] = (counts[status] || 0) + 1;
  }
  return counts;
}
"""

_PHI_LEAK_FIXTURE = """
// TODO(dev): remove before deploy: copied from the live sheet to reproduce the bug.
const DEBUG_PATIENT = { name: 'Marisol Quenneville', mrn: 'MRN 40418827', dob: '03/14/1961' };
const DEBUG_CALLBACK = 'call back (773) 268-4410 after 2pm';
"""

_PHI_LEAK_LOG = """
function debugEscalation_(row) {
  Logger.log('escalating chart for SSN 523-71-4086, row ' + row);
}
"""


@dataclass
class DemoSeed:
    sheets: list[Sheet]
    baselines: dict[int, str]
    expected: dict[int, DriftState] = field(default_factory=dict)
    log_spreadsheet_id: str = ""
    # per sheet: (staging hash, production hash) of the content as seeded, the staging hash
    # taken after mapping DEV3 ids to production ids (as snapshots hash it)
    heads: dict[int, tuple[str, str]] = field(default_factory=dict)
    # sheets whose production was edited after seeding: the production files before the edit
    # (their content hash is baselines[n])
    baseline_files: dict[int, list[ScriptFile]] = field(default_factory=dict)
    # DEV3 tabs filled with synthetic patients (as generate-test-data --seed 0 would): rows each
    test_data: dict[int, dict[str, int]] = field(default_factory=dict)


def seed_demo(store: EmulatorStore) -> DemoSeed:
    """Fill an empty emulator store with the demo; returns what the workspace must record."""
    sheets = demo_sheets()
    for email, name in (
        (DEVELOPER, "Staging Developer"),
        (SOMEONE_ELSE, "Someone Else"),
        (MANAGER, "Practice Manager"),
        (SCHEDULER, "Snapshot Scheduler"),
    ):
        store.add_user(email, name)
    seed = DemoSeed(sheets=sheets, baselines={}, log_spreadsheet_id=log_spreadsheet_id())
    for env in Environment:
        folder = folder_id(env)
        store.create_folder(folder, FOLDER_NAMES[env], owner=MANAGER)
        writers = PRODUCTION_WRITERS if env is Environment.PRODUCTION else STAGING_WRITERS
        for writer in writers:
            store.share(folder, writer, "writer")
        store.share(folder, PRACTICE_DOMAIN, "reader", type="domain")
    by_number = {s.number: s for s in sheets}
    mapper = IdMapper(sheets)
    for sheet in sheets:
        n = sheet.number
        lookup = by_number[(n + 1) % SHEET_COUNT] if n % 10 == 4 else None
        created = rfc3339(_BASE_TIME + n * 3600)
        production = _base_files(sheet, Environment.PRODUCTION, lookup)
        staging = _base_files(sheet, Environment.STAGING, lookup)
        seed.baselines[n] = content_hash(production)
        seed.expected[n] = DriftState.IN_SYNC
        _create(store, sheet, Environment.PRODUCTION, production, created)
        _create(store, sheet, Environment.STAGING, staging, created)
        if n in TESTED and sheet.reference_ranges:
            seed.test_data[n] = {"Patients": DEMO_PATIENTS}

        staged_change = n in STAGED or n in DIVERGED or n in PHI_LEAKS
        if staged_change:
            code = _code_of(staging) + _STAGED_FEATURE
            if n == PHI_LEAKS[0]:
                code += _PHI_LEAK_FIXTURE
            elif n == PHI_LEAKS[1]:
                code += _PHI_LEAK_LOG
            elif n == BROKEN_TEST:
                code = code.replace(*BREAKING_CHANGE)
            staging = _replace_file(staging, "Code", code)
            _update(store, sheet.dev3_script_id, staging, DEVELOPER, _STAGING_EDIT_TIME + n * 60)
            seed.expected[n] = DriftState.AHEAD
        if n in PROD_MODIFIED or n in DIVERGED:
            hotfix = _code_of(production).replace(
                "const STALE_AFTER_DAYS =", "const STALE_AFTER_DAYS = 2; // hotfix, was"
            )
            seed.baseline_files[n] = production
            production = _replace_file(production, "Code", hotfix)
            _update(store, sheet.prod_script_id, production, SOMEONE_ELSE, _PROD_EDIT_TIME + n * 60)
            seed.expected[n] = DriftState.DIVERGED if staged_change else DriftState.PROD_MODIFIED
        staging_in_production_ids = [
            ScriptFile(f.name, f.type, mapper.to_production(f.source)) for f in staging
        ]
        seed.heads[n] = (content_hash(staging_in_production_ids), content_hash(production))

    store.create_spreadsheet(
        seed.log_spreadsheet_id,
        "Staging Environment Log",
        {tab: [list(LOG_HEADER)] for tab in LOG_TABS},
        owner=MANAGER,
    )
    store.share(seed.log_spreadsheet_id, PRACTICE_DOMAIN, "writer", type="domain")
    # the planted sharing mistakes (`health` names them)
    store.share(by_number[SHARED_OUTSIDE].dev3_spreadsheet_id, OUTSIDER, "writer")
    store.share(by_number[SHARED_WITH_LINK].prod_spreadsheet_id, "", "reader", type="anyone")
    return seed


@dataclass(frozen=True)
class PatientTab:
    """One of the demo's production patient lists: headers as practices write them, and what
    each column holds (for inventing its rows)."""

    headers: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def range(self) -> str:
        return f"Patients!A2:{chr(ord('A') + len(self.headers) - 1)}"


# Varied headers, so the test-data generator's header matching is exercised on the demo; the
# first is the one sheet 150's planted patient is written in.
PATIENT_TABS = (
    PatientTab(
        ("Name", "MRN", "DOB", "Phone", "Email", "Notes"),
        ("name", "mrn", "dob", "phone", "email", "note"),
    ),
    PatientTab(
        ("Pt Name", "Chart #", "D.O.B.", "Cell", "E-mail", "Ins ID", "Comments"),
        ("name", "mrn", "dob", "phone", "email", "member", "note"),
    ),
    PatientTab(
        (
            "Last Name",
            "First Name",
            "Date of Birth",
            "Sex",
            "Home Phone",
            "Medical Record #",
            "Insurance",
            "Member ID",
            "Group #",
        ),
        ("last", "first", "dob", "sex", "phone", "mrn", "payer", "member", "group"),
    ),
    PatientTab(
        ("Patient", "Acct", "Birthdate", "Address", "City", "Zip", "Phone #", "Preferred Pharmacy"),
        ("name", "mrn", "dob", "street", "city", "zip", "phone", "pharmacy"),
    ),
    PatientTab(
        ("PATIENT_NAME", "PATIENT_ID", "DOB", "AGE", "SEX", "PCP", "Callback Number", "Last Visit"),
        ("name", "mrn", "dob", "age", "sex", "provider", "phone", "visit"),
    ),
    PatientTab(
        ("patientName", "mrn", "dateOfBirth", "email", "phone", "insuranceId", "notes"),
        ("name", "mrn", "dob", "email", "phone", "member", "note"),
    ),
)
PATIENT_HEADER = list(PATIENT_TABS[0].headers)
# sheets whose DEV3 copy also gets test data in an Appointments tab (listed in the
# workspace's test-data/sheet-NNN.toml, as a practice would list it)
APPOINTMENT_SHEETS = (0, 6, 12, 18, 24, 30, 36)
APPOINTMENT_HEADER = (
    "Appt Date",
    "Time",
    "Patient",
    "MRN",
    "Provider",
    "NPI",
    "Reason",
    "ICD-10",
    "BP",
    "Pulse",
    "Temp",
    "Status",
)
PLANTED_PATIENT = [
    "Marisol Quenneville",
    "40418827",
    "03/14/1961",
    "(773) 268-4410",
    "marisol.q61@patients.example",
    "callback after 2pm",
]


def patient_tab(number: int) -> PatientTab:
    return PATIENT_TABS[number % len(PATIENT_TABS)]


def patient_columns(number: int) -> tuple[str, str]:
    """The headers of the sheet's patient name (a first name where there is one) and chart
    number columns."""
    tab = patient_tab(number)
    name = "first" if "first" in tab.kinds else "name"
    return tab.headers[tab.kinds.index(name)], tab.headers[tab.kinds.index("mrn")]


def test_data_overrides() -> dict[str, bytes]:
    """The demo workspace's test-data/ overrides: the sheets with an Appointments tab, and one
    sheet that leaves a column empty on purpose."""
    files = {
        f"test-data/sheet-{n:03d}.toml": (
            "# generate-test-data also fills this tab (its data rows and columns)\n"
            f'[tabs]\nAppointments = "A2:{chr(ord("A") + len(APPOINTMENT_HEADER) - 1)}"\n'
        ).encode()
        for n in APPOINTMENT_SHEETS
    }
    files["test-data/sheet-003.toml"] = (
        b"# the pharmacy column stays empty in DEV3 (no generator is wanted for it)\n"
        b'[headers]\n"Preferred Pharmacy" = "skip"\n'
    )
    return files


def demo_patients(sheet: Sheet) -> list[list[str]]:
    """Invented production patients (names from Faker's word lists, numbers at random) in the
    sheet's columns; sheet 150 also holds the patient its staging code leaks."""
    from faker.providers.person.en_US import Provider

    rng = random.Random(sheet.number * 104729)
    firsts, lasts = list(Provider.first_names), list(Provider.last_names)
    tab = patient_tab(sheet.number)
    rows = []
    for _ in range(rng.randint(4, 9)):
        first, last = rng.choice(firsts), rng.choice(lasts)
        area = rng.choice(("312", "773", "630", "847", "708"))
        born = (rng.randint(1, 12), rng.randint(1, 28), rng.randint(1935, 2012))
        values = {
            "name": f"{first} {last}",
            "first": first,
            "last": last,
            "mrn": f"{rng.randint(10_000_000, 99_999_999)}",
            "dob": f"{born[0]:02d}/{born[1]:02d}/{born[2]}",
            "age": str(2026 - born[2]),
            "sex": rng.choice("FM"),
            "phone": f"({area}) {rng.randint(200, 989)}-{rng.randint(0, 9999):04d}",
            "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@patients.example",
            "note": rng.choice(("", "prefers text", "interpreter: Spanish", "wheelchair access")),
            "member": f"{rng.choice('ABHKW')}{rng.randint(10_000_000, 99_999_999)}",
            "payer": rng.choice(("Aetna", "Cigna", "Medicare", "Humana")),
            "group": f"{rng.randint(100_000, 999_999)}",
            "street": f"{rng.randint(100, 9999)} {rng.choice(lasts)} Ave",
            "city": "Chicago",
            "zip": f"606{rng.randint(0, 99):02d}",
            "pharmacy": rng.choice(("Walgreens #1182", "CVS Lakeview", "Jewel-Osco")),
            "provider": f"Dr. {rng.choice(lasts)}",
            "visit": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2025",
        }
        rows.append([values[kind] for kind in tab.kinds])
    if sheet.number == PHI_LEAKS[0]:
        rows.insert(2, list(PLANTED_PATIENT))
    return rows


def demo_appointments(sheet: Sheet) -> list[list[str]]:
    """A few invented production appointments (never read by sheetstage: only the header)."""
    rng = random.Random(sheet.number * 7919)
    return [
        [
            f"11/{day:02d}/2026",
            "09:30",
            f"{rng.choice(('Ana', 'Luis', 'Grace'))} {rng.choice(('Okafor', 'Lindqvist'))}",
            f"{rng.randint(10_000_000, 99_999_999)}",
            "Dr. Patel",
            "1234567893",
            "Follow-up",
            "I10",
            "128/82",
            "72",
            "98.4",
            "Scheduled",
        ]
        for day in (3, 4, 5)
    ]


def _create(
    store: EmulatorStore, sheet: Sheet, env: Environment, files: list[ScriptFile], moment: str
) -> None:
    label = f"{sheet.name}{' (DEV3)' if env is Environment.STAGING else ''}"
    spreadsheet_id = sheet.spreadsheet_id(env)
    production = env is Environment.PRODUCTION
    tabs: dict[str, list[list[object]]] = {main_tab(sheet): queue_tab(sheet, production)}
    if sheet.reference_ranges:
        tab = patient_tab(sheet.number)
        if production:
            patients: list[list[object]] = list(demo_patients(sheet))
        elif sheet.number in TESTED:  # the demo developer filled these with generate-test-data
            patients = synthetic_patients(sheet, list(tab.headers), tab.range)
        else:
            patients = []
        tabs["Patients"] = [list(tab.headers), *patients]
    if sheet.number in APPOINTMENT_SHEETS:
        appointments = demo_appointments(sheet) if production else []
        tabs["Appointments"] = [list(APPOINTMENT_HEADER), *appointments]
    creator = SOMEONE_ELSE if env is Environment.PRODUCTION else DEVELOPER
    store.create_spreadsheet(spreadsheet_id, label, tabs, owner=creator, parents=[folder_id(env)])
    store.create_project(
        sheet.script_id(env),
        f"{label} script",
        spreadsheet_id,
        [_as_api(f) for f in files],
        creator,
        moment,
    )
    writers = PRODUCTION_WRITERS if env is Environment.PRODUCTION else STAGING_WRITERS
    for file_id in (spreadsheet_id, sheet.script_id(env)):
        for writer in writers:
            store.share(file_id, writer, "writer")
        store.share(file_id, PRACTICE_DOMAIN, "reader", type="domain")


def _update(
    store: EmulatorStore, script_id: str, files: list[ScriptFile], user: str, moment: float
) -> None:
    store.update_content(script_id, [_as_api(f) for f in files], user, rfc3339(moment))


def _as_api(file: ScriptFile) -> dict[str, str]:
    return {"name": file.name, "type": str(file.type), "source": file.source}
