"""JavaScript syntax errors as Apps Script's updateContent reports them.

Apps Script runs V8, so V8 itself (mini-racer) compiles each file when it is installed: its
words and line are Google's, early errors included ("Identifier 'x' has already been
declared"). Without it, tree-sitter finds where the parse breaks and the offending token is
named the way V8 names it ("Unexpected token '}'", "Unexpected end of input").
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tree_sitter

_IDENTIFIERS = {
    "identifier",
    "property_identifier",
    "shorthand_property_identifier",
    "shorthand_property_identifier_pattern",
    "statement_identifier",
    "private_property_identifier",
}
_STRINGS = {"string", "template_string"}
_QUOTES = {"'", '"', "`", "string_fragment"}
# a token that needs something after it: the error is then the token that follows
_CONTINUED = {"=", "+", "-", "*", "/", "%", "(", "[", "{", ",", ".", ":", "?", "=>", "&&", "||"}
_local = threading.local()
# compiled, never run: the script throws before its first statement (after a "use strict"
# prologue, which must stay first), on line 1 so V8's line numbers are the file's own
_STOP = 'throw "sheetstage: parsed";'
_STRICT_PROLOGUE = re.compile(r"""\A(?:\s|//[^\n]*|/\*[\s\S]*?\*/)*(['"])use strict\1\s*;?""")
_V8_SYNTAX_ERROR = re.compile(r"\A<anonymous>:(\d+): SyntaxError: (.*)")


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 1-based
    detail: str  # V8's words, e.g. "Unexpected token '}'"

    def message(self, file_name: str) -> str:
        return f"Syntax error: SyntaxError: {self.detail} line: {self.line} file: {file_name}"


@functools.cache
def _language() -> tree_sitter.Language:
    import tree_sitter
    import tree_sitter_javascript

    return tree_sitter.Language(tree_sitter_javascript.language())


def _parser() -> tree_sitter.Parser:
    """One parser per thread: the HTTP handlers run on many threads."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        import tree_sitter

        parser = tree_sitter.Parser(_language())
        _local.parser = parser
    return parser


def find_syntax_error(files: Iterable[tuple[str, str]]) -> tuple[str, SyntaxProblem] | None:
    """The first (file name, problem) among SERVER_JS sources, or None when all compile."""
    with _v8() as context:
        for name, source in files:
            problem = None
            if context is not None:
                problem = v8_syntax_error(context, source)
            else:
                problem = tree_sitter_syntax_error(source)
            if problem is not None:
                return name, problem
    return None


@contextmanager
def _v8() -> Iterator[Any]:
    """A fresh V8 context for one request (compiling declares a file's globals, and files of
    another project must not collide with them); None without mini-racer."""
    try:
        from py_mini_racer import MiniRacer
    except ImportError:
        yield None
        return
    context = MiniRacer()
    try:
        yield context
    finally:
        context.close()


def v8_syntax_error(context: Any, source: str) -> SyntaxProblem | None:
    from py_mini_racer import JSParseException

    prologue = _STRICT_PROLOGUE.match(source)
    cut = prologue.end() if prologue else 0
    try:
        context.eval(source[:cut] + _STOP + source[cut:])
    except JSParseException as error:
        found = _V8_SYNTAX_ERROR.match(str(error))
        if found is None:  # not V8's usual form: let the grammar say where
            return tree_sitter_syntax_error(source) or SyntaxProblem(1, str(error).strip())
        return SyntaxProblem(int(found.group(1)), found.group(2).strip())
    except Exception:  # it compiled: the stop (or a clash with an earlier file's globals)
        return None
    return None


def tree_sitter_syntax_error(source: str) -> SyntaxProblem | None:
    data = source.encode("utf-8")
    tree = _parser().parse(data)
    if not tree.root_node.has_error:
        return None
    broken = first_error_node(tree.root_node)
    if broken is None:
        return None
    leaves = [
        leaf for leaf in _leaves(tree.root_node) if leaf.type != "comment" and not leaf.is_missing
    ]
    if broken.is_missing:
        if broken.parent is not None and broken.parent.type in _STRINGS:
            return SyntaxProblem(broken.start_point[0] + 1, "Invalid or unexpected token")
        following = [leaf for leaf in leaves if leaf.start_byte >= broken.end_byte]
        return _unexpected(following[0] if following else None, data)
    inside = [leaf for leaf in leaves if broken.start_byte <= leaf.start_byte < broken.end_byte]
    unterminated = next((leaf for leaf in inside if _stray_string_part(leaf)), None)
    if unterminated is not None:
        return SyntaxProblem(unterminated.start_point[0] + 1, "Invalid or unexpected token")
    if not inside or inside[-1].type in _CONTINUED:
        following = [leaf for leaf in leaves if leaf.start_byte >= broken.end_byte]
        return _unexpected(following[0] if following else None, data)
    return _unexpected(inside[0], data)


def _unexpected(token: tree_sitter.Node | None, data: bytes) -> SyntaxProblem:
    if token is None:
        return SyntaxProblem(data.count(b"\n") + 1, "Unexpected end of input")
    line = token.start_point[0] + 1
    text = (token.text or b"").decode("utf-8", "replace")
    if token.type in _IDENTIFIERS:
        return SyntaxProblem(line, f"Unexpected identifier '{text}'")
    if token.type == "number":
        return SyntaxProblem(line, "Unexpected number")
    if token.parent is not None and token.parent.type in _STRINGS:
        return SyntaxProblem(line, "Unexpected string")
    return SyntaxProblem(line, f"Unexpected token '{text}'")


def _stray_string_part(leaf: tree_sitter.Node) -> bool:
    """A quote or string text outside any string: a string that never ends."""
    outside = leaf.parent is None or leaf.parent.type not in _STRINGS
    return outside and leaf.type in _QUOTES


def first_error_node(node: tree_sitter.Node) -> tree_sitter.Node | None:
    if node.is_error or node.is_missing:
        deeper = next((c for c in node.children if c.has_error), None)
        return first_error_node(deeper) if deeper is not None else node
    for child in node.children:
        if child.has_error or child.is_missing:
            return first_error_node(child)
    return None


def _leaves(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    if node.child_count == 0:
        return [node]
    if node.type in _STRINGS:  # a string is one token, whatever its parts
        return [node.children[0]] if node.children else [node]
    found: list[tree_sitter.Node] = []
    for child in node.children:
        found.extend(_leaves(child))
    return found
