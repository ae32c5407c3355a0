"""The staging-test runner on its own: V8 (mini-racer), the Apps Script stand-ins, discovery,
failures mapped to the project's files and lines, the time limit."""

from __future__ import annotations

import re

from services.models import FileType, ScriptFile
from services.scripttests import Fixture, Limits, ProjectTests, Workbook, discover, run_project

DEV3 = "1dev3" + "a" * 39
PROD = "1prod" + "b" * 39
OTHER = "1dev3" + "c" * 39  # registered, but not named in the code under test
QUEUE = [["Item", "Status", "Count"], ["a", "Done", 1], ["b", "New", 2], ["c", "Waiting", 3]]


def fixture(**changes: object) -> Fixture:
    book = Workbook(
        "Queue (DEV3)",
        "America/Chicago",
        [{"name": "Queue", "sheetId": 0, "values": QUEUE, "maxRows": 1000, "maxColumns": 26}],
    )
    settings: dict = {
        "workbooks": {DEV3: book},
        "aliases": {DEV3: DEV3, PROD: DEV3, OTHER: OTHER},
        "active": DEV3,
        "user": "dev@practice.example",
        "time_zone": "America/Chicago",
    }
    settings.update(changes)
    return Fixture(**settings)


def code(name: str, source: str) -> ScriptFile:
    return ScriptFile(name, FileType.SERVER_JS, source)


def run(source: str, *more: ScriptFile, limit: float = 5.0, **changes: object) -> ProjectTests:
    files = [*more, code("tests/Unit", source)]
    return run_project(files, fixture(**changes), Limits(time_s=limit))


def outcomes(result: ProjectTests) -> dict[str, str]:
    return {r.name: r.status for r in result.results}


def test_modern_javascript_that_apps_script_v8_accepts_runs() -> None:
    result = run("""
class Counter {
  #count = 0;
  static of(items) { const c = new Counter(); items.forEach(() => c.add()); return c; }
  add() { this.#count += 1; return this; }
  get value() { return this.#count; }
}
function testModernSyntax() {
  const { a, b: [first, ...rest] } = { a: 1, b: [2, 3, 4] };
  const text = `${a}-${first}-${rest.join('')}`;
  const missing = null;
  Staging.assertEqual(text, '1-2-34');
  Staging.assertEqual(missing?.deep?.value ?? 'fallback', 'fallback');
  Staging.assertEqual(Counter.of([1, 2, 3]).value, 3);
  const doubled = [1, 2].map((n) => n * 2);
  Staging.assertEqual({ ...{ x: 1 }, doubled }, { x: 1, doubled: [2, 4] });
  Staging.assertEqual(Object.entries({ k: 'v' }).flat(), ['k', 'v']);
}
""")
    assert outcomes(result) == {"testModernSyntax": "passed"}


def test_a_failure_names_the_file_and_line_where_it_happened() -> None:
    library = code(
        "Code",
        "function total(rows) {\n  return rows.reduce((s, r) => s + r.count, 0)\n    .toFixed();\n}\nfunction broken() {\n  return undefined.field;\n}\n",
    )
    result = run(
        "function testTotal() {\n  Staging.assertEqual(total([{ count: 1 }]), '2', 'total');\n}\n"
        "function testBroken() {\n  broken();\n}\n",
        library,
    )
    by_name = {r.name: r for r in result.results}
    assert by_name["testTotal"].status == "failed"
    assert by_name["testTotal"].where == "tests/Unit.gs:2"
    assert by_name["testTotal"].message == "total: expected 2, got 1"
    assert by_name["testBroken"].status == "error"
    assert by_name["testBroken"].where == "Code.gs:6"  # in the code under test, not the test
    assert by_name["testBroken"].message.startswith(
        "TypeError: Cannot read properties of undefined"
    )
    assert (by_name["testBroken"].file, by_name["testBroken"].line) == ("tests/Unit.gs", 4)


def test_a_test_that_never_ends_is_stopped_at_its_time_limit() -> None:
    result = run(
        "function testSpins() { while (true) {} }\nfunction testAfter() { Staging.assert(true); }",
        limit=0.3,
    )
    spun = result.results[0]
    assert spun.status == "error" and spun.message == "timed out: stopped at the time limit (0.3 s)"
    assert spun.seconds >= 0.3
    assert outcomes(result)["testAfter"] == "passed"  # a fresh context for each test


def test_url_fetch_is_recorded_and_answered_without_leaving_the_machine() -> None:
    result = run("""
function testFetchIsRecorded() {
  // port 1 on this machine: a real request could not succeed
  const plain = UrlFetchApp.fetch('http://127.0.0.1:1/api', { method: 'post', payload: 'x=1' });
  Staging.assertEqual(plain.getResponseCode(), 200);
  Staging.respondTo('https://api.example.com/', { code: 503, body: 'down' });
  Staging.assertThrows(() => UrlFetchApp.fetch('https://api.example.com/v1'), 'returned code 503');
  const muted = UrlFetchApp.fetch('https://api.example.com/v1', { muteHttpExceptions: true });
  Staging.assertEqual(muted.getContentText(), 'down');
  const calls = Staging.fetches();
  Staging.assertEqual(calls.map((c) => c.method), ['POST', 'GET', 'GET']);
  Staging.assertEqual(calls[0].payload, 'x=1');
}
""")
    assert outcomes(result) == {"testFetchIsRecorded": "passed"}


def test_mail_gmail_and_drive_calls_are_recorded_for_tests_to_inspect() -> None:
    result = run("""
function testRecorders() {
  MailApp.sendEmail('a@practice.example, b@practice.example', 'Hi', 'Body');
  MailApp.sendEmail({ to: 'c@practice.example', cc: 'd@elsewhere.example', subject: 'S', body: 'B' });
  GmailApp.createDraft('e@practice.example', 'Draft', 'text');
  const [first, second, draft] = Staging.mails();
  Staging.assertEqual(first.recipients, ['a@practice.example', 'b@practice.example']);
  Staging.assertEqual(second.recipients, ['c@practice.example', 'd@elsewhere.example']);
  Staging.assert(draft.draft && draft.service === 'GmailApp');
  const file = DriveApp.createFile('report.csv', 'a,b');
  file.setSharing(DriveApp.Access.ANYONE_WITH_LINK, DriveApp.Permission.VIEW);
  const methods = Staging.driveCalls().map((c) => c.method);
  Staging.assertEqual(methods, ['Folder.createFile', 'File.setSharing']);
  Staging.assertEqual(file.getName(), 'report.csv');
}
""")
    assert outcomes(result) == {"testRecorders": "passed"}


def test_services_the_stand_ins_lack_fail_the_test_by_name() -> None:
    result = run("""
function testTriggers() { ScriptApp.getProjectTriggers(); }
function testBorders() { SpreadsheetApp.getActiveSheet().getRange('A1').setBorder(true); }
function testUi() { SpreadsheetApp.getUi(); }
""")
    messages = {r.name: r.message for r in result.results}
    assert messages == {
        "testTriggers": "not available in staging tests: ScriptApp.getProjectTriggers",
        "testBorders": "not available in staging tests: Range.setBorder",
        "testUi": "not available in staging tests: SpreadsheetApp.getUi",
    }
    assert all(r.where == f"tests/Unit.gs:{r.line}" for r in result.results)


def test_spreadsheet_stand_in_reads_and_writes_dev3_values_in_memory() -> None:
    result = run(f"""
function testReadWrite() {{
  const sheet = SpreadsheetApp.openById('{DEV3}').getSheetByName('Queue');
  Staging.assertEqual(sheet.getLastRow(), 4);
  Staging.assertEqual(sheet.getLastColumn(), 3);
  Staging.assertEqual(sheet.getRange('B2:C3').getValues(), [['Done', 1], ['New', 2]]);
  Staging.assertEqual(sheet.getRange(4, 1, 1, 3).getValues(), [['c', 'Waiting', 3]]);
  Staging.assertEqual(sheet.getRange('C4').getValue(), 3);
  sheet.getRange('E1').setValue('total');
  sheet.getRange(2, 4, 2, 1).setValues([[true], [false]]);
  sheet.appendRow(['d', 'New', 4]);
  Staging.assertEqual(sheet.getLastRow(), 5);
  Staging.assertEqual(sheet.getDataRange().getA1Notation(), 'A1:E5');
  Staging.assertEqual(sheet.getRange('Queue!D2').getValue(), true);
  Staging.assertThrows(() => sheet.getRange('A1:B2').setValues([[1, 2]]), 'The data has 1 but the range has 2');
  sheet.getRange('A5:C5').clear();
  Staging.assertEqual(sheet.getLastRow(), 4);
  Staging.assertEqual(SpreadsheetApp.getActiveSpreadsheet().getRange('Queue!A2').getValue(), 'a');
}}
function testWritesAreGoneInTheNextTest() {{
  Staging.assertEqual(SpreadsheetApp.getActiveSheet().getRange('E1').getValue(), '');
}}
function testProductionIdOpensTheDev3Copy() {{
  const production = SpreadsheetApp.openById('{PROD}');
  Staging.assertEqual(production.getId(), '{PROD}');
  Staging.assertEqual(production.getName(), 'Queue (DEV3)');
  production.getSheets()[0].getRange('A2').setValue('changed');
  Staging.assertEqual(SpreadsheetApp.openById('{DEV3}').getSheets()[0].getRange('A2').getValue(), 'changed');
}}
function testUnknownAndUnreadSpreadsheets() {{
  Staging.assertThrows(() => SpreadsheetApp.openById('1nope'), 'not a spreadsheet of the registry');
  Staging.assertThrows(() => SpreadsheetApp.openById('{OTHER}'), 'its id is not written');
}}
""")
    assert set(outcomes(result).values()) == {"passed"}, [r.message for r in result.results]


def test_utilities_logger_properties_cache_and_session() -> None:
    result = run("""
const hex = (bytes) => bytes.map((b) => ((b + 256) % 256).toString(16).padStart(2, '0')).join('');
function testUtilities() {
  const visit = new Date(2026, 11, 3, 9, 30);  // the script's time zone, not the machine's
  Staging.assertEqual(visit.toISOString(), '2026-12-03T15:30:00.000Z');
  Staging.assertEqual(visit.getHours(), 9);
  Staging.assertEqual(Utilities.formatDate(visit, 'America/Chicago', "EEE, MMM d 'at' h:mm a z"), 'Thu, Dec 3 at 9:30 AM CST');
  Staging.assertEqual(Utilities.formatDate(visit, 'Etc/UTC', 'yyyy-MM-dd HH:mm:ss.SSS Z'), '2026-12-03 15:30:00.000 +0000');
  Staging.assertEqual(hex(Utilities.computeDigest(Utilities.DigestAlgorithm.SHA_256, 'abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  Staging.assertEqual(hex(Utilities.computeDigest(Utilities.DigestAlgorithm.SHA_1, 'abc')), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  Staging.assertEqual(hex(Utilities.computeDigest(Utilities.DigestAlgorithm.MD5, 'abc')), '900150983cd24fb0d6963f7d28e17f72');
  Staging.assertEqual(hex(Utilities.computeHmacSha256Signature('what do ya want for nothing?', 'Jefe')), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  Staging.assertEqual(Utilities.base64Encode('héllo ✓'), 'aMOpbGxvIOKckw==');
  Staging.assertEqual(Utilities.newBlob(Utilities.base64Decode('aMOpbGxvIOKckw==')).getDataAsString(), 'héllo ✓');
  Staging.assertEqual(Utilities.formatString('%s has %d items (%.1f%%)', 'Queue', 3, 42.25), 'Queue has 3 items (42.3%)');
  Utilities.sleep(60000);  // no-op
}
function testLoggerPropertiesCacheSession() {
  Logger.log('count %s of %s', 1, 2);
  console.warn('careful');
  Staging.assertEqual(Staging.logs(), ['count 1 of 2', 'careful']);
  PropertiesService.getScriptProperties().setProperty('k', 42);
  Staging.assertEqual(PropertiesService.getScriptProperties().getProperty('k'), '42');
  CacheService.getScriptCache().put('c', 'v', 60);
  Staging.assertEqual(CacheService.getScriptCache().get('c'), 'v');
  Staging.assertEqual(Session.getActiveUser().getEmail(), 'dev@practice.example');
  Staging.assertEqual(Session.getScriptTimeZone(), 'America/Chicago');
}
function testEachTestStartsEmpty() {
  Staging.assertEqual(PropertiesService.getScriptProperties().getProperty('k'), null);
  Staging.assertEqual(CacheService.getScriptCache().get('c'), null);
}
""")
    assert set(outcomes(result).values()) == {"passed"}, [r.message for r in result.results]


def test_discovery_finds_test_functions_in_test_files_and_reports_top_level_work() -> None:
    files = [
        code("Code", "function testLooksLikeATest() {}\nrefresh();\n"),
        code(
            "testHelpers", "const LIMIT = Object.freeze({ rows: 24 * 60 });\nfunction testA() {}\n"
        ),
        code(
            "tests/Queue",
            "'use strict';\nconst make = (n) => n;\nclass Fixture {}\nfunction helper() {}\n"
            "function testB() {}\nconst SHEET = SpreadsheetApp.getActiveSheet();\nhelper();\n",
        ),
        ScriptFile("tests/page", FileType.HTML, "<p>function testC() {}</p>"),
    ]
    cases, problems = discover(files)
    assert [(c.name, c.file, c.line) for c in cases] == [
        ("testA", "testHelpers.gs", 2),
        ("testB", "tests/Queue.gs", 5),
    ]
    assert [p.split(":")[:2] for p in problems] == [
        ["tests/Queue.gs", "6"],
        ["tests/Queue.gs", "7"],
    ]
    assert "runs in production too" in problems[0]


def test_a_project_that_does_not_load_fails_each_test_with_the_file_and_line() -> None:
    result = run(
        "function testA() {}\nfunction testB() {}",
        code("Code", "const A = 1;\nconst = 2;\n"),
    )
    assert outcomes(result) == {"testA": "error", "testB": "error"}
    assert result.results[0].message.startswith("project did not load: Code.gs:2: SyntaxError")
    top_level = run("function testA() {}", code("Code", "const X = 1;\nSpreadsheetApp.getUi();\n"))
    assert top_level.results[0].message == (
        "project did not load: Code.gs:2: not available in staging tests: SpreadsheetApp.getUi"
    )


def test_a_project_without_tests_passes_and_says_so() -> None:
    result = run_project([code("Code", "function main() {}")], fixture())
    assert result.passed and not result.has_tests and result.summary == "no staging tests"


def test_a_test_that_breaks_the_runners_side_gets_an_error_never_a_pass() -> None:
    result = run("""
function testForgesItsResult() {
  JSON.stringify = () => '{"status":"passed","message":"","frames":[],"output":[]}';
  Array.prototype.map = () => [];
  throw new Error('really failed');
}
function testThrowsAMonster() {
  throw { toJSON() { throw 1; }, toString() { throw 2; }, get name() { throw 3; } };
}
function testStillRuns() { Staging.assert(true); }
""")
    by_name = {r.name: r for r in result.results}
    assert by_name["testForgesItsResult"].status == "error"
    assert by_name["testForgesItsResult"].message == "Error: really failed"
    assert by_name["testThrowsAMonster"].status == "error"
    assert by_name["testStillRuns"].status == "passed"


def test_memory_outside_the_heap_counts_against_the_limit_too() -> None:
    files = [
        code(
            "tests/Unit",
            """
function testTypedArrays() { const kept = []; for (let i = 0; i < 8; i++) kept.push(new Uint8Array(4 * 1048576)); }
function testCopies() { const a = new Float64Array(1048576); const kept = [a.slice(), a.map((x) => x), a.slice()]; }
function testNoSharedMemory() { Staging.assertEqual([typeof SharedArrayBuffer, typeof Atomics, typeof WebAssembly], ['undefined', 'undefined', 'undefined']); }
""",
        )
    ]
    result = run_project(files, fixture(), Limits(memory_mb=20))
    messages = {r.name: (r.status, r.message) for r in result.results}
    assert messages["testTypedArrays"] == (
        "error",
        "RangeError: Uint8Array: staging tests allow 20 MB of typed arrays in all ([tests] memory_limit_mb)",
    )
    assert messages["testCopies"][0] == "error" and "Float64Array" in messages["testCopies"][1]
    assert messages["testNoSharedMemory"] == ("passed", "")


def test_the_time_limit_covers_loading_and_the_sheet_has_its_own() -> None:
    slow = [
        code(f"Slow{i}", f"const T{i} = Date.now(); while (Date.now() - T{i} < 150) {{}}")
        for i in range(3)
    ]
    result = run("function testA() {}\nfunction testB() {}", *slow, limit=0.3)
    assert [r.status for r in result.results] == ["error", "error"]
    stopped = re.fullmatch(
        r"Slow\d\.gs: loading the project ran past the time limit \(0\.3 s\)",
        result.results[0].message,
    )
    assert stopped, result.results[0].message  # whichever file the deadline fell in
    assert result.results[1].message == result.results[0].message  # not loaded again
    tests = "\n".join(
        f"function test{i}() {{ const t = Date.now(); while (Date.now() - t < 100) {{}} }}"
        for i in range(6)
    )
    budget = run_project([code("tests/Unit", tests)], fixture(), Limits(time_s=1, sheet_s=0.25))
    statuses = [r.status for r in budget.results]
    assert statuses[0] == "passed" and statuses[-1] == "error"  # 6 x 0.1 s > 0.25 s
    assert budget.results[-1].message == "not run: the sheet's tests ran past 0.25 s"


def test_test_files_declare_only_and_a_test_is_declared_once() -> None:
    files = [
        code("Code", "function testShadowed() { return 'production'; }\n"),
        code(
            "tests/Unit",
            "class Boot { static { MailApp.sendEmail('a@practice.example', 's', 'b'); } }\n"
            "class Fine { static LIMIT = 3; count() { return 1; } }\n"
            "const COPY = SOURCE.value;\nconst WEEK = 7 * 24 * 60;\n"
            "function testShadowed() {}\nfunction testTwice() {}\nfunction testTwice() {}\n"
            "function testHelper_() {}\n",
        ),
    ]
    cases, problems = discover(files)
    assert [c.name for c in cases] == ["testShadowed", "testTwice", "testTwice"]
    assert [p.split(":")[1] for p in problems] == ["1", "3", "5", "7"]
    assert "testShadowed is declared again (first at Code.gs:1)" in problems[2]
    result = run_project(files, fixture())
    assert [r.name for r in result.results] == ["testShadowed", "testTwice"]  # each run once


def test_file_names_with_spaces_keep_their_lines_and_dates_behave_as_in_apps_script() -> None:
    result = run(
        """
function testWhere() { broken(); }
function testDates() {
  Staging.assertEqual(typeof Date(), 'string');
  Staging.assertEqual(new Date('12/03/2026 09:30').getHours(), 9);
  Staging.assertEqual(Date.parse('12/03/2026 09:30'), new Date(2026, 11, 3, 9, 30).getTime());
  Staging.assertEqual(new Date(2026, 0, 5).toDateString(), 'Mon Jan 05 2026');
  Staging.assertEqual(Utilities.formatDate(new Date(5), 'Etc/UTC', 's.S'), '0.5');
  Staging.assertEqual(Utilities.formatString('%05d|%-4s|', 42, 'ab'), '00042|ab  |');
  Staging.assert(new Date() instanceof Date);
}
""",
        code("Front desk helpers", "function broken() {\n  null.x;\n}\n"),
    )
    by_name = {r.name: r for r in result.results}
    assert by_name["testWhere"].where == "Front desk helpers.gs:2"
    assert by_name["testDates"].status == "passed", by_name["testDates"].message
