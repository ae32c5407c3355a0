"""Drive v3 batch requests (`POST /batch/drive/v3`) in Google's multipart/mixed format.

The request's body holds up to 100 parts, each `Content-Type: application/http` wrapping one
Drive call as it would go on the wire (request line, headers, blank line, body); google-api-
python-client's BatchHttpRequest writes them with bare LF line ends, Google accepts CRLF too.
The answer is multipart/mixed as well: one part per call, in order, each an HTTP response
(status line, headers, blank line, JSON) with the call's Content-ID prefixed `response-`. The
batch itself answers 200 whatever its calls answer; each call counts against the quota and
the request log as one call, as Google counts them. A call without an Authorization header of
its own takes the batch's."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus

PATH = "/batch/drive/v3"
API_PREFIX = "/drive/v3/"  # the only calls this batch endpoint serves
MOST_CALLS = 100  # Drive's limit for one batch request
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


class BatchFormatError(ValueError):
    """The batch body cannot be read (400 for the whole batch)."""


@dataclass
class Call:
    """One call inside a batch."""

    method: str
    target: str  # path and query, as in a request line
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""
    content_id: str = ""  # the part's Content-ID, as sent ("" when none)


def boundary_of(content_type: str) -> str:
    """The boundary of a `multipart/mixed` Content-Type; BatchFormatError when not one."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise BatchFormatError(
            f"a batch request's Content-Type must be multipart/mixed, not {content_type!r}"
        )
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise BatchFormatError("the multipart/mixed Content-Type names no boundary")
    return found.group(1)


def parse_calls(body: bytes, boundary: str) -> list[Call]:
    """The calls of a multipart/mixed batch body (RFC 2046 parts, LF or CRLF line ends)."""
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 2 or not any(chunk.startswith(b"--") for chunk in chunks[1:]):
        raise BatchFormatError("the batch body does not end with its closing boundary")
    calls = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        part = _strip_line_end(_strip_line_start(chunk))
        part_headers, inner = _split_head(part)
        kind = part_headers.get("content-type", "")
        if not kind.lower().startswith("application/http"):
            raise BatchFormatError(
                f"each part of a batch must be application/http, not {kind or 'untyped'!r}"
            )
        head, body_bytes = _split_message(inner)
        lines = head.split("\n")
        words = lines[0].strip().split(" ")
        if len(words) < 2:
            raise BatchFormatError(f"a part's request line is not `METHOD PATH`: {lines[0]!r}")
        calls.append(
            Call(
                words[0].upper(),
                words[1],
                _headers(lines[1:]),
                body_bytes,
                part_headers.get("content-id", ""),
            )
        )
    if len(calls) > MOST_CALLS:
        raise BatchFormatError(
            f"a batch request may hold at most {MOST_CALLS} calls; this one holds {len(calls)}: "
            "send the rest in another batch"
        )
    return calls


def response_body(answers: list[tuple[Call, int, bytes, dict[str, str]]]) -> tuple[str, bytes]:
    """(Content-Type, body) of the batch's answer: one application/http part per call, in
    order, each `HTTP/1.1 status reason`, its headers, a blank line and its JSON."""
    boundary = "batch_" + secrets.token_hex(12)
    out = bytearray()
    for call, code, data, headers in answers:
        out += f"--{boundary}\r\nContent-Type: application/http\r\n".encode()
        if call.content_id:
            out += f"Content-ID: {_response_id(call.content_id)}\r\n".encode("latin-1")
        out += b"\r\n"
        reason = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""
        out += f"HTTP/1.1 {code} {reason}\r\n".encode()
        out += b"Content-Type: application/json; charset=UTF-8\r\n"
        for key, value in headers.items():
            out += f"{key}: {value}\r\n".encode("latin-1")
        out += f"Content-Length: {len(data)}\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/mixed; boundary={boundary}", bytes(out)


def _response_id(content_id: str) -> str:
    """`<base + 1>` -> `<response-base + 1>`, as Google answers it."""
    inner = content_id.strip()
    if inner.startswith("<") and inner.endswith(">"):
        return f"<response-{inner[1:-1]}>"
    return f"response-{inner}"


def _strip_line_start(chunk: bytes) -> bytes:
    """The line end after a boundary belongs to the boundary (and so does padding)."""
    end = chunk.find(b"\n")
    return chunk[end + 1 :] if end >= 0 and not chunk[:end].strip() else chunk


def _strip_line_end(chunk: bytes) -> bytes:
    """The line end before the next boundary belongs to that boundary."""
    if chunk.endswith(b"\r\n"):
        return chunk[:-2]
    return chunk[:-1] if chunk.endswith(b"\n") else chunk


def _split_message(data: bytes) -> tuple[str, bytes]:
    """(head as text with LF line ends, body) of a message: they part at its first blank
    line."""
    found = [(i, n) for i, n in ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2)) if i >= 0]
    if not found:
        return data.decode("latin-1").replace("\r\n", "\n"), b""
    index, size = min(found)
    return data[:index].decode("latin-1").replace("\r\n", "\n"), data[index + size :]


def _split_head(data: bytes) -> tuple[dict[str, str], bytes]:
    head, rest = _split_message(data)
    return _headers(head.split("\n")), rest


def _headers(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            found[name.strip().lower()] = value.strip()
    return found
