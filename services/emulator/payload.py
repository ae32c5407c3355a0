"""What Google refuses in a request before it changes anything: unknown fields, bad enum
values, an invalid manifest, JavaScript that does not parse. Each check raises
InvalidArgument with Google's wording."""

from __future__ import annotations

import json
from typing import Any

from services.emulator.store import FILE_TYPES, InvalidArgument
from services.emulator.syntax import find_syntax_error

# the discovery documents' schemas (script.v1 Content, File, User, FunctionSet, Function;
# sheets.v4 BatchUpdateValuesRequest, ValueRange)
CONTENT_FIELDS = frozenset({"scriptId", "files"})
FILE_FIELDS = frozenset(
    {"name", "type", "source", "lastModifyUser", "createTime", "updateTime", "functionSet"}
)
USER_FIELDS = frozenset({"domain", "email", "name", "photoUrl"})
FUNCTION_SET_FIELDS = frozenset({"values"})
FUNCTION_FIELDS = frozenset({"name", "parameters"})
BATCH_UPDATE_VALUES_FIELDS = frozenset(
    {
        "valueInputOption",
        "data",
        "includeValuesInResponse",
        "responseValueRenderOption",
        "responseDateTimeRenderOption",
    }
)
VALUE_RANGE_FIELDS = frozenset({"range", "majorDimension", "values"})
VALUE_INPUT_OPTIONS = ("RAW", "USER_ENTERED")
INSERT_DATA_OPTIONS = ("OVERWRITE", "INSERT_ROWS")
MAJOR_DIMENSIONS = ("ROWS", "COLUMNS")
MANIFEST_NAME = "appsscript"


def _snake(name: str) -> str:
    """Google names a nested field in an error path by its proto name: lastModifyUser ->
    last_modify_user."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def check_known_fields(payload: dict[str, Any], known: frozenset[str], where: str) -> None:
    for name in payload:
        if name not in known:
            at = f" at '{where}'" if where else ""
            raise InvalidArgument(
                f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
            )


def _check_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(
            f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Struct), "
            f"{json.dumps(value)}"
        )
    return value


def check_content_body(body: Any) -> list[dict[str, Any]]:
    """The updateContent body (a Content): only its known fields, files of known fields and
    types. Returns the files."""
    body = _check_object(body, "content")
    check_known_fields(body, CONTENT_FIELDS, "content")
    files = body.get("files", [])
    if not isinstance(files, list):
        raise InvalidArgument(
            "Invalid value at 'content.files' (type.googleapis.com/google.apps.script.type.File), "
            f"{json.dumps(files)}"
        )
    for index, entry in enumerate(files):
        where = f"content.files[{index}]"
        entry = _check_object(entry, where)
        check_known_fields(entry, FILE_FIELDS, where)
        kind = entry.get("type")
        if kind is not None and kind not in FILE_TYPES:
            raise InvalidArgument(
                f"Invalid value at '{where}.type' "
                f"(type.googleapis.com/google.apps.script.type.FileType), {json.dumps(kind)}"
            )
        for text_field in ("name", "source", "createTime", "updateTime"):
            value = entry.get(text_field)
            if value is not None and not isinstance(value, str):
                raise InvalidArgument(
                    f"Invalid value at '{where}.{_snake(text_field)}' (TYPE_STRING), "
                    f"{json.dumps(value)}"
                )
        user = entry.get("lastModifyUser")
        if user is not None:
            user_where = f"{where}.last_modify_user"
            check_known_fields(_check_object(user, user_where), USER_FIELDS, user_where)
        function_set = entry.get("functionSet")
        if function_set is not None:
            set_where = f"{where}.function_set"
            function_set = _check_object(function_set, set_where)
            check_known_fields(function_set, FUNCTION_SET_FIELDS, set_where)
            functions = function_set.get("values", [])
            for position, function in enumerate(functions if isinstance(functions, list) else []):
                function_where = f"{set_where}.values[{position}]"
                function = _check_object(function, function_where)
                check_known_fields(function, FUNCTION_FIELDS, function_where)
    return files


def check_project_files(files: list[dict[str, Any]]) -> None:
    """What the Apps Script backend refuses on save: an invalid manifest, a code file that
    does not parse."""
    for entry in files:
        if entry.get("type") == "JSON" and entry.get("name") == MANIFEST_NAME:
            check_manifest(str(entry.get("source", "")))
    code = [
        (str(entry.get("name", "")), str(entry.get("source", "")))
        for entry in files
        if entry.get("type") == "SERVER_JS"
    ]
    found = find_syntax_error(code)
    if found is not None:
        name, problem = found
        raise InvalidArgument(problem.message(name))


def check_manifest(source: str) -> None:
    try:
        manifest = json.loads(source)
    except ValueError as error:
        raise InvalidArgument(
            f"Invalid manifest: {MANIFEST_NAME}.json is not valid JSON ({error})."
        ) from None
    if not isinstance(manifest, dict):
        raise InvalidArgument(f"Invalid manifest: {MANIFEST_NAME}.json must be a JSON object.")
    if "timeZone" in manifest and not isinstance(manifest["timeZone"], str):
        raise InvalidArgument(
            'Invalid manifest: timeZone must be a string such as "America/New_York", not '
            f"{json.dumps(manifest['timeZone'])}."
        )


def check_value_input_option(value: Any) -> None:
    if value is None:
        raise InvalidArgument("'valueInputOption' is required but not specified")
    if value not in VALUE_INPUT_OPTIONS:
        raise InvalidArgument(
            "Invalid value at 'value_input_option' "
            f'(type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "{value}"'
        )


def check_insert_data_option(value: str) -> None:
    if value not in INSERT_DATA_OPTIONS:
        raise InvalidArgument(
            "Invalid value at 'insert_data_option' "
            f'(type.googleapis.com/google.apps.sheets.v4.InsertDataOption), "{value}"'
        )


def check_batch_update_body(body: Any) -> list[dict[str, Any]]:
    """The values.batchUpdate body: known fields only; returns its data entries."""
    body = _check_object(body, "")
    check_known_fields(body, BATCH_UPDATE_VALUES_FIELDS, "")
    data = body.get("data", [])
    if not isinstance(data, list):
        raise InvalidArgument(
            "Invalid value at 'data' (type.googleapis.com/google.apps.sheets.v4.ValueRange), "
            f"{json.dumps(data)}"
        )
    rows_first = []
    for index, entry in enumerate(data):
        where = f"data[{index}]"
        check_known_fields(_check_object(entry, where), VALUE_RANGE_FIELDS, where)
        dimension = entry.get("majorDimension", "ROWS")
        if dimension not in MAJOR_DIMENSIONS:
            raise InvalidArgument(
                f"Invalid value at '{where}.major_dimension' "
                f"(type.googleapis.com/google.apps.sheets.v4.Dimension), {json.dumps(dimension)}"
            )
        values = entry.get("values", [])
        if dimension == "COLUMNS" and isinstance(values, list):
            entry = {**entry, "values": _transpose(values)}
        rows_first.append(entry)
    check_value_input_option(body.get("valueInputOption"))
    return rows_first


def _transpose(columns: list[Any]) -> list[list[Any]]:
    """COLUMNS-major values as rows; a cell a column lacks is None (left as it is)."""
    height = max((len(c) for c in columns if isinstance(c, list)), default=0)
    return [
        [c[r] if isinstance(c, list) and r < len(c) else None for c in columns]
        for r in range(height)
    ]
