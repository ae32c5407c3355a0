"""Staging tests: a project's own `test*` functions, run locally in an embedded V8 engine
(mini-racer) over stand-ins for the Apps Script services (staging_standins.js).

This module is the engine only: it is given the project's files and the spreadsheet values the
tests may read, and touches neither Google nor the workspace (services/scripttests_job.py
does both)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from py_mini_racer import (
    JSEvalException,
    JSOOMException,
    JSParseException,
    JSTimeoutException,
    MiniRacer,
)

from services.models import Environment, FileType, ScriptFile, Sheet
from services.workspace import disk_name

if TYPE_CHECKING:
    from services.session import Session

MAX_OUTPUT_LINES = 40
# top-level statements a test file may hold: declarations only (test files deploy with the
# project, and Apps Script runs every file's top level before each trigger)
_DECLARATIONS = {"comment", "empty_statement", "function_declaration"}
_LITERALS = {"string", "number", "true", "false", "null", "undefined", "regex", "comment"}
_FUNCTIONS = {"arrow_function", "function_expression", "function", "generator_function"}


@dataclass(frozen=True)
class Limits:
    time_s: float = 5.0  # each test: loading the project and running the test
    memory_mb: int = 512  # each test's V8 heap, and its typed arrays
    sheet_s: float = 60.0  # all of a sheet's tests


@dataclass(frozen=True)
class Workbook:
    """One spreadsheet's values as the tests see them: tabs of rows, dates as {"$date": ms}."""

    name: str
    time_zone: str
    tabs: list[dict[str, Any]]


@dataclass(frozen=True)
class Fixture:
    """What a project's tests run against: DEV3 workbooks by key, the ids that open each (any
    registered id of the spreadsheet, production's included), the id the code calls its own."""

    workbooks: dict[str, Workbook]
    aliases: dict[str, str]
    active: str
    user: str
    time_zone: str = "Etc/UTC"

    def settings(self) -> dict[str, Any]:
        return {
            "workbooks": {
                key: {"name": w.name, "timeZone": w.time_zone, "tabs": w.tabs}
                for key, w in self.workbooks.items()
            },
            "aliases": self.aliases,
            "active": self.active,
            "user": self.user,
            "timeZone": self.time_zone,
        }


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest class

    name: str
    file: str  # as the workspace names it: tests/Status.gs
    line: int


@dataclass
class TestResult:
    __test__ = False

    name: str
    file: str
    line: int
    status: str  # passed, failed (an assertion), error (anything else, time-outs included)
    message: str = ""
    where: str = ""  # file:line where it failed, in the project's files
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "status": self.status,
            "message": self.message,
            "where": self.where,
            "seconds": round(self.seconds, 4),
            "output": self.output,
        }


@dataclass
class ProjectTests:
    """One project's run: each test's result, and what is wrong with the test files as such."""

    results: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def has_tests(self) -> bool:
        return bool(self.results)

    @property
    def passed(self) -> bool:
        return not self.problems and all(r.passed for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def summary(self) -> str:
        if not self.results and not self.problems:
            return "no staging tests"
        parts = [f"{self.count('passed')} passed"]
        if self.count("failed"):
            parts.append(f"{self.count('failed')} failed")
        if self.count("error"):
            parts.append(f"{self.count('error')} error{'s' if self.count('error') > 1 else ''}")
        if self.problems:
            parts.append(f"{len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}")
        first = next((r for r in self.results if not r.passed), None)
        text = ", ".join(parts)
        if first is not None:
            text += f"; {first.name} at {first.where or first.file}: {first.message}"
        elif self.problems:
            text += f"; {self.problems[0]}"
        return text


class TestsOutcome(Protocol):
    __test__ = False

    @property
    def passed(self) -> bool: ...

    @property
    def summary(self) -> str: ...


StagingTests = Callable[["Session", Sheet, Sequence[ScriptFile], Environment], TestsOutcome | None]
"""The pipeline's hook for staging tests: run a project's tests on the given code (DEV3's in
validation and deploy step 1, the code read back from production in step 6), in the given
environment's ids; None when the project has no tests."""


def is_test_file(file: ScriptFile) -> bool:
    """Files whose names start with `test` or sit under a `tests/` folder."""
    if file.type is not FileType.SERVER_JS:
        return False
    parts = file.name.split("/")
    return parts[-1].lower().startswith("test") or "tests" in (p.lower() for p in parts[:-1])


_parsers = threading.local()


def _parser():  # type: ignore[no-untyped-def]
    """A tree-sitter parser of this thread's own (a parser is not safe to share)."""
    if not hasattr(_parsers, "javascript"):
        import tree_sitter
        import tree_sitter_javascript

        language = tree_sitter.Language(tree_sitter_javascript.language())
        _parsers.javascript = tree_sitter.Parser(language)
    return _parsers.javascript


def discover(files: Sequence[ScriptFile]) -> tuple[list[TestCase], list[str]]:
    """The tests (top-level `test*` function declarations of the test files, in file order;
    names ending in `_` are private helpers, as in Apps Script) and what is wrong with the test
    files: top-level statements that do more than declare, and a test declared twice (the
    project's global scope keeps only the last one)."""
    cases: list[TestCase] = []
    problems: list[str] = []
    declared: dict[str, str] = {}  # every top-level function of the project -> where
    for file in files:
        if file.type is not FileType.SERVER_JS:
            continue
        name = disk_name(file.name, file.type)
        testing = is_test_file(file)
        root = _parser().parse(file.source.encode("utf-8")).root_node
        for node in root.named_children:
            line = node.start_point[0] + 1
            if node.type == "function_declaration":
                identifier = node.child_by_field_name("name")
                function = identifier.text.decode() if identifier and identifier.text else ""
                if function in declared and (testing or function.startswith("test")):
                    problems.append(
                        f"{name}:{line}: {function} is declared again (first at "
                        f"{declared[function]}); only the last one would run"
                    )
                declared.setdefault(function, f"{name}:{line}")
                if testing and function.startswith("test") and not function.endswith("_"):
                    cases.append(TestCase(function, name, line))
            elif testing and not _declares_only(node):
                problems.append(
                    f"{name}:{line}: a test file's top level may only declare (functions, "
                    f"constants); this {node.type.replace('_', ' ')} runs in production too"
                )
    return cases, problems


def _declares_only(node: Any) -> bool:
    if node.type in _DECLARATIONS:
        return True
    if node.type == "expression_statement":  # "use strict" and other directives
        return node.named_child_count == 1 and node.named_children[0].type == "string"
    if node.type == "class_declaration":
        return _inert_class(node)
    if node.type not in ("lexical_declaration", "variable_declaration"):
        return False
    for declarator in node.named_children:
        value = declarator.child_by_field_name("value")
        if value is not None and not _declarative_value(value):
            return False
    return True


def _declarative_value(node: Any) -> bool:
    """A literal, a function, a class without static code, or an object or array of those
    (`Object.freeze` of one counts: freezing a constant declares it). Reading a property or
    combining values may run a getter or valueOf, so only literals combine. Walked with a
    stack: a deeply nested constant cannot exhaust Python's recursion."""
    pending = [node]
    while pending:
        current = pending.pop()
        kind = current.type
        if kind in _LITERALS or kind in _FUNCTIONS or kind == "identifier":
            continue
        if kind == "template_string":
            if any(c.type == "template_substitution" for c in current.named_children):
                return False
        elif kind == "class":
            if not _inert_class(current):
                return False
        elif kind in ("array", "object", "parenthesized_expression"):
            pending.extend(current.named_children)
        elif kind == "pair":
            key = current.child_by_field_name("key")
            value = current.child_by_field_name("value")
            if key is not None and key.type == "computed_property_name":
                return False
            if value is not None:
                pending.append(value)
        elif kind in ("shorthand_property_identifier", "method_definition"):
            continue
        elif kind in ("unary_expression", "binary_expression"):
            operands = current.named_children
            if not all(c.type in _LITERALS or c.type in _OPERATORS for c in operands):
                return False
            pending.extend(operands)
        elif kind == "call_expression":
            function = current.child_by_field_name("function")
            arguments = current.child_by_field_name("arguments")
            if function is None or function.text != b"Object.freeze" or arguments is None:
                return False
            pending.extend(arguments.named_children)
        else:
            return False
    return True


_OPERATORS = {"unary_expression", "binary_expression", "parenthesized_expression"}


def _inert_class(node: Any) -> bool:
    """A class whose definition runs no code: no static blocks, no static field values."""
    body = node.child_by_field_name("body")
    for member in body.named_children if body is not None else []:
        if member.type == "class_static_block":
            return False
        if member.type == "field_definition" and any(c.type == "static" for c in member.children):
            value = member.child_by_field_name("value")
            if value is not None and not _declarative_value(value):
                return False
    return True


@cache
def standins() -> str:
    return resources.files("services").joinpath("staging_standins.js").read_text("utf-8")


class _LoadFailed(Exception):
    pass


_engine_lock = threading.Lock()
_engine_started = False


def start_engine() -> None:
    """Start V8 on the main thread. V8 set up on any other thread crashes the process later
    (seen with mini-racer 0.14 on Linux), so entry points call this before their workers run
    tests; a worker finding V8 not started raises instead of crashing."""
    global _engine_started
    with _engine_lock:
        if _engine_started:
            return
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "staging tests: V8 must be started on the main thread first "
                "(services.scripttests.start_engine)"
            )
        MiniRacer().close()
        _engine_started = True


def _new_context() -> MiniRacer:
    start_engine()
    return MiniRacer()


def run_project(
    files: Sequence[ScriptFile],
    fixture: Fixture,
    limits: Limits = Limits(),
    progress: Callable[[TestResult], None] | None = None,
) -> ProjectTests:
    """Each test in a fresh V8 context holding the stand-ins and every .gs file of the project
    in file order (one global scope, as Apps Script loads them). A test's time limit covers
    loading the project and running it; the sheet's limit, all of its tests."""
    started = time.perf_counter()
    cases, problems = discover(files)
    run = ProjectTests(problems=problems)
    code = [f for f in files if f.type is FileType.SERVER_JS]
    load_failure = ""
    for case in {c.name: c for c in cases}.values():  # one run per name: the last declared
        test_started = time.perf_counter()
        if not load_failure and test_started - started > limits.sheet_s:
            load_failure = f"not run: the sheet's tests ran past {limits.sheet_s:g} s"
        if load_failure:
            result = TestResult(case.name, case.file, case.line, "error", load_failure)
        else:
            try:
                result = _run_one(case, code, fixture, limits)
            except _LoadFailed as failed:
                load_failure = str(failed)
                result = TestResult(case.name, case.file, case.line, "error", load_failure)
            except Exception as error:  # the engine's edge: a test must not end the run
                first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                message = f"the runner could not complete this test ({first[:200]})"
                result = TestResult(case.name, case.file, case.line, "error", message)
        result.seconds = time.perf_counter() - test_started
        run.results.append(result)
        if progress is not None:
            progress(result)
    run.seconds = time.perf_counter() - started
    return run


def _source_url(name: str) -> str:
    """A file's name as V8's `//# sourceURL=` holds it (a space would end it)."""
    return urllib.parse.quote(name, safe="/")


def _run_one(
    case: TestCase, code: Sequence[ScriptFile], fixture: Fixture, limits: Limits
) -> TestResult:
    context = _new_context()
    try:
        context.set_hard_memory_limit(limits.memory_mb * 1024 * 1024)
        context.eval(standins())
        settings = fixture.settings() | {"memoryBytes": limits.memory_mb * 1024 * 1024}
        context.eval(f"__sheetstage.setup({json.dumps(settings)})")
        deadline = time.monotonic() + limits.time_s  # the project's time, not the runner's
        for file in code:
            name = disk_name(file.name, file.type)
            try:
                context.eval(
                    f"{file.source}\n//# sourceURL={_source_url(name)}",
                    timeout_sec=max(deadline - time.monotonic(), 0.001),
                )
            except JSTimeoutException:
                _settle(context)
                raise _LoadFailed(
                    f"{name}: loading the project ran past the time limit ({limits.time_s:g} s)"
                ) from None
            except JSOOMException:
                raise _LoadFailed(
                    f"{name}: loading the project ran out of memory (the limit is "
                    f"{limits.memory_mb} MB)"
                ) from None
            except (JSParseException, JSEvalException) as error:
                problem = _load_error(name, error, _names(code))
                raise _LoadFailed(f"project did not load: {problem}") from None
        where = f"{case.file}:{case.line}"
        try:
            answer = context.eval(
                f"__sheetstage.run({json.dumps(case.name)})",
                timeout_sec=max(deadline - time.monotonic(), 0.001),
            )
        except JSTimeoutException:
            _settle(context)
            message = f"timed out: stopped at the time limit ({limits.time_s:g} s)"
            return TestResult(case.name, case.file, case.line, "error", message, where)
        except JSOOMException:
            message = f"ran out of memory (the limit is {limits.memory_mb} MB)"
            return TestResult(case.name, case.file, case.line, "error", message, where)
        return _result(case, answer, _names(code))
    finally:
        context.close()


def _names(code: Sequence[ScriptFile]) -> set[str]:
    return {disk_name(f.name, f.type) for f in code}


def _settle(context: MiniRacer) -> None:
    """After a time-out, let V8 finish stopping the script (its answer arrives later, and would
    hit a closed context): V8 runs one task at a time, so the next one waits for it."""
    with contextlib.suppress(Exception):  # the context is closed next anyway
        context.eval("0")


_FRAME = re.compile(r"^\s*at (?:.*? \()?(.+?):(\d+):\d+\)?$", re.MULTILINE)


def _load_error(name: str, error: Exception, project_names: set[str]) -> str:
    """Where loading stopped, in the project's files: the first stack frame in one of them
    (a runtime error), else V8's first line (`file:line: SyntaxError: ...`; a parse error names
    no file, so it is the one being loaded)."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    match = re.match(r"^(.*?):(\d+): (.*)$", first)
    message = (match.group(3) if match else first).removeprefix("NotAvailableError: ")
    for quoted, line in _FRAME.findall(text):
        file = urllib.parse.unquote(quoted)
        if file in project_names:
            return f"{file}:{line}: {message}"
    named = urllib.parse.unquote(match.group(1)) if match is not None else None
    if match is not None and named in (*project_names, "<anonymous>", ""):
        where = named if named in project_names else name
        return f"{where}:{match.group(2)}: {message}"
    return f"{name}: {message}"


def _result(case: TestCase, answer: object, project_names: set[str]) -> TestResult:
    """The stand-ins' answer, checked: a project that broke the runner's side gets an error,
    never a pass it did not earn."""
    try:
        data = json.loads(answer) if isinstance(answer, str) else None
    except ValueError:
        data = None
    valid = (
        isinstance(data, dict)
        and data.get("status") in ("passed", "failed", "error")
        and isinstance(data.get("message"), str)
        and isinstance(data.get("frames"), list)
        and isinstance(data.get("output"), list)
    )
    if not valid:
        message = "the test broke the runner's side of the stand-ins; its result is unknown"
        return TestResult(case.name, case.file, case.line, "error", message)
    assert isinstance(data, dict)
    frames = [
        f"{file}:{frame['line']}"
        for frame in data["frames"]
        if isinstance(frame, dict)
        and isinstance(frame.get("line"), int)
        and (file := urllib.parse.unquote(str(frame.get("file")))) in project_names
    ]
    return TestResult(
        case.name,
        case.file,
        case.line,
        data["status"],
        data["message"],
        frames[0] if frames else "",
        output=[str(line) for line in data["output"]][-MAX_OUTPUT_LINES:],
    )
