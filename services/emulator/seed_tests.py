"""The demo's staging tests (DESIGN.md "Staging tests"): about thirty sheets carry test files
beside their code, a reminders feature that reads the synthetic patients, queue rows to count,
one staged change that breaks a test and one test that waits forever."""

from __future__ import annotations

import datetime
import random

from services import testdata
from services.models import FileType, ScriptFile, Sheet

STATUSES = ("New", "In progress", "Waiting", "Done", "Escalated", "Cancelled")
DEMO_PATIENTS = 12  # synthetic patients in each tested DEV3 Patients tab
TEST_DATA_AS_OF = datetime.date(2026, 1, 1)

REMINDERS = """/** Appointment reminders: what a patient is told, the front desk's daily list. */
const PATIENTS_TAB = 'Patients';
const PATIENT_NAME_COLUMN = '{{NAME_COLUMN}}';
const PATIENT_ID_COLUMN = '{{ID_COLUMN}}';
const FRONT_DESK = 'front-desk@practice.example';
const CALLBACK_NUMBER = '(312) 555-0100';

function patientRows_() {
  const [header, ...rows] = SpreadsheetApp.openById(SPREADSHEET_ID)
    .getSheetByName(PATIENTS_TAB)
    .getDataRange()
    .getValues();
  return rows
    .filter((row) => row.some((cell) => cell !== ''))
    .map((row) => Object.fromEntries(header.map((title, i) => [title, row[i]])));
}

function firstName_(patient) {
  return String(patient?.[PATIENT_NAME_COLUMN] ?? '').trim().split(/\\s+/)[0];
}

function reminderMessage_(patient, visit) {
  const zone = Session.getScriptTimeZone();
  const day = Utilities.formatDate(visit, zone, 'EEE, MMM d');
  const time = Utilities.formatDate(visit, zone, 'h:mm a');
  return `Hi ${firstName_(patient)}, {{LOCATION}} reminds you of your visit on ${day} at ` +
    `${time}. Reply C to confirm or call ${CALLBACK_NUMBER}.`;
}

function queueReminders(visit) {
  const lines = patientRows_().map((patient) => reminderMessage_(patient, visit));
  const day = Utilities.formatDate(visit, Session.getScriptTimeZone(), 'yyyy-MM-dd');
  MailApp.sendEmail(FRONT_DESK, `Reminders to send for ${day}`, lines.join('\\n'));
  return lines.length;
}
"""

QUEUE_TESTS = """/**
 * Staging tests for the {{TAB}} tab. `sheetstage test --sheet {{NUMBER}}` runs them locally on
 * DEV3's values (in memory; nothing is written or sent). Test files deploy with the project, so
 * their top level only declares.
 */
const OPEN_STATUSES_ = ['New', 'In progress', 'Waiting', 'Escalated'];

class QueueFixture_ {
  constructor(sheet) {
    this.sheet = sheet;
  }

  add({ status = 'New', received = new Date(2026, 10, 2) } = {}) {
    const row = new Array(Math.max(this.sheet.getLastColumn(), STATUS_COLUMN)).fill('');
    row[0] = received;
    row[STATUS_COLUMN - 1] = status;
    this.sheet.appendRow(row);
    return this;
  }

  get openRows() {
    const [, ...rows] = this.sheet.getDataRange().getValues();
    return rows.filter((row) => OPEN_STATUSES_.includes(row[STATUS_COLUMN - 1])).length;
  }
}

function testRefreshStatusCountsOpenRows() {
  const queue = new QueueFixture_(getMainSheet_());
  Staging.assert(queue.openRows > 0, `DEV3 ${MAIN_TAB} has no open rows to count`);
  Staging.assertEqual(refreshStatus(), queue.openRows, 'open items');
  const summary = queue.sheet.getRange('{{SUMMARY_CELL}}').getValue();
  Staging.assertEqual(summary, `${queue.openRows} open`, 'summary cell');
}

function testDoneAndCancelledRowsAreClosed() {
  const queue = new QueueFixture_(getMainSheet_());
  const before = refreshStatus();
  queue.add({ status: 'Done' }).add({ status: 'Cancelled' });
  Staging.assertEqual(refreshStatus(), before, 'closed rows counted as open');
  queue.add({ status: 'Escalated' });
  Staging.assertEqual(refreshStatus(), before + 1, 'a new open row');
}
"""

VALIDATION_TESTS = """/** Staging tests for row validation. */
function testUnknownStatusIsReported() {
  const sheet = getMainSheet_();
  new QueueFixture_(sheet).add({ status: 'Lost' });
  const row = sheet.getLastRow();
  const report = validateAll();
  const found = report.find((line) => line.startsWith(`row ${row}:`));
  Staging.assert(found?.includes('unknown status Lost'), report.join('; ') || 'nothing reported');
}
"""

REPORTS_TESTS = """/** Staging tests for the summary e-mail: recorded, never sent. */
function testSummaryEmailStaysInsideThePractice() {
  sendSummary();
  const mails = Staging.mails();
  Staging.assertEqual(mails.length, 1, 'summary e-mails');
  const { recipients, subject, body } = mails[0];
  const outside = recipients.filter((address) => !address.endsWith('@practice.example'));
  Staging.assertEqual(outside, [], 'recipients outside the practice');
  Staging.assert(subject.endsWith(`: ${refreshStatus()} open item(s)`), subject);
  Staging.assert(body.includes(SpreadsheetApp.getActiveSpreadsheet().getUrl()), body);
}
"""

SYNC_TESTS = """/** Staging tests for the dashboard push: recorded, nothing leaves the machine. */
function testDashboardPushIsRecordedNotSent() {
  Staging.respondTo(DASHBOARD_URL, { code: 202, body: '{"ok":true}' });
  Staging.assertEqual(pushToDashboard(), 202, 'response code');
  const [call, ...more] = Staging.fetches();
  Staging.assertEqual(more.length, 0, 'further calls');
  Staging.assertEqual(call.method, 'POST');
  const { open } = JSON.parse(call.payload);
  Staging.assertEqual(open, refreshStatus(), 'open count sent');
}
"""

REMINDERS_TESTS = """/** Staging tests for reminders, on DEV3's synthetic patients. */
const VISIT_ = () => new Date(2026, 11, 3, 9, 30);

function testPatientsAreSyntheticTestData() {
  const patients = patientRows_();
  const fill = 'sheetstage generate-test-data --sheet {{NUMBER}}';
  Staging.assert(patients.length > 0, `no DEV3 patients: ${fill}`);
  const real = patients.filter((p) => !String(p[PATIENT_ID_COLUMN]).startsWith('SYN-'));
  Staging.assertEqual(real.length, 0, 'patients without a SYN- id');
}

function testReminderNamesThePatientAndTheVisit() {
  const [patient] = patientRows_();
  const message = reminderMessage_(patient, VISIT_());
  Staging.assert(message.startsWith(`Hi ${firstName_(patient)}, `), message);
  Staging.assert(message.includes('on Thu, Dec 3 at 9:30 AM'), message);
  Staging.assert(!message.includes(patient[PATIENT_ID_COLUMN]), 'a reminder names the chart');
}

function testRemindersOnlyGoToThePractice() {
  Staging.assertEqual(queueReminders(VISIT_()), patientRows_().length, 'reminders');
  const outside = Staging.mails()
    .flatMap(({ recipients }) => recipients)
    .filter((address) => !address.endsWith('@practice.example'));
  Staging.assertEqual(outside, [], 'e-mail addressed outside the practice');
}
"""

NIGHTLY_TESTS = """/** Waits for the nightly summary as the trigger would see it. */
function testNightlyWaitsForTheSummary() {
  const cache = CacheService.getScriptCache();
  while (cache.get('summary-sent') !== 'yes') {
    Utilities.sleep(500); // in staging nothing else runs: no trigger ever sets the key
  }
}
"""

BREAKING_CHANGE = (
    "if (status !== 'Done' && status !== 'Cancelled') {",
    "// Staged: waiting items are on hold, not open (for the dashboard card)\n"
    "    if (status !== 'Done' && status !== 'Cancelled' && status !== 'Waiting') {",
)


def fill(template: str, **values: object) -> str:
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", str(value))
    return template


def main_tab(sheet: Sheet) -> str:
    return sheet.name.split(" — ")[1].split()[0] + " Queue"


def status_column(number: int) -> int:
    """The column the sheet's code reads statuses from (its first seeded random draw)."""
    return random.Random(number * 7919).randint(2, 6)


def queue_tab(sheet: Sheet, production: bool) -> list[list[object]]:
    """The main tab: a header with Status where the code looks, and a few queue items (no
    patient in them: received and due dates, who, priority)."""
    others = ["Assigned To", "Due Date", "Priority", "Notes"]
    column = status_column(sheet.number)
    header = ["Received", *others]
    header.insert(column - 1, "Status")
    rng = random.Random(sheet.number * 31 + production)
    statuses = [*STATUSES, "Waiting", "New"]
    rng.shuffle(statuses)
    rows: list[list[object]] = [header]
    for index, status in enumerate(statuses):
        values = {
            "Received": f"2026-11-{index + 2:02d}",
            "Status": status,
            "Assigned To": sheet.owner.split("@")[0],
            "Due Date": f"2026-11-{index + 12:02d}",
            "Priority": rng.choice(("High", "Normal", "Low")),
            "Notes": rng.choice(("", "waiting on vendor", "see thread", "call back Monday")),
        }
        rows.append([values[title] for title in header])
    return rows


def synthetic_patients(sheet: Sheet, headers: list[str], data_range: str) -> list[list[object]]:
    """Rows from the test-data generator (seed 0), as `generate-test-data` would write them."""
    shape = testdata.shape("Patients", data_range, headers, testdata.packaged_mappings())
    population = testdata.generate(
        DEMO_PATIENTS, testdata.sheet_seed(0, sheet.number), TEST_DATA_AS_OF
    )
    return [list(row) for row in testdata.rows_for(shape, population)]


def code_and_tests(
    sheet: Sheet,
    *,
    summary_cell: str,
    reports: bool,
    sync: bool,
    validation: bool,
    patient_headers: tuple[str, str] | None,
    times_out: bool,
) -> tuple[list[ScriptFile], list[ScriptFile]]:
    """A tested sheet's extra code files and its test files (under tests/)."""
    n = sheet.number
    code: list[ScriptFile] = []
    tests = [
        ScriptFile(
            "tests/Queue",
            FileType.SERVER_JS,
            fill(QUEUE_TESTS, TAB=main_tab(sheet), NUMBER=n, SUMMARY_CELL=summary_cell),
        )
    ]
    if validation:
        tests.append(ScriptFile("tests/Validation", FileType.SERVER_JS, VALIDATION_TESTS))
    if reports:
        tests.append(ScriptFile("tests/Reports", FileType.SERVER_JS, REPORTS_TESTS))
    if sync:
        tests.append(ScriptFile("tests/Sync", FileType.SERVER_JS, SYNC_TESTS))
    if patient_headers is not None:
        name, identifier = patient_headers
        location = sheet.name.split(" — ")[0]
        reminders = fill(REMINDERS, NAME_COLUMN=name, ID_COLUMN=identifier, LOCATION=location)
        code.append(ScriptFile("Reminders", FileType.SERVER_JS, reminders))
        tests.append(
            ScriptFile("tests/Reminders", FileType.SERVER_JS, fill(REMINDERS_TESTS, NUMBER=n))
        )
    if times_out:
        tests.append(ScriptFile("tests/Nightly", FileType.SERVER_JS, NIGHTLY_TESTS))
    return code, tests
