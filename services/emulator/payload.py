"""What Google refuses in a request before it changes anything: unknown fields, bad enum
values, an invalid manifest, JavaScript that does not parse. Each check raises
InvalidArgument with Google's wording."""

from __future__ import annotations

import functools
import json
from typing import Any

from googleapiclient import discovery_cache

from services.emulator.store import FILE_TYPES, InvalidArgument
from services.emulator.syntax import find_syntax_error

# the discovery documents' schemas (script.v1 Content, File, User, FunctionSet, Function;
# sheets.v4 BatchUpdateValuesRequest, ValueRange, BatchUpdateSpreadsheetRequest and the
# parts of a Request the emulator serves)
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
BATCH_UPDATE_SPREADSHEET_FIELDS = frozenset(
    {
        "requests",
        "includeSpreadsheetInResponse",
        "responseRanges",
        "responseIncludeGridData",
        "commentsViewMode",
    }
)
SERVED_REQUESTS = ("appendDimension", "updateCells")
APPEND_DIMENSION_FIELDS = frozenset({"sheetId", "dimension", "length"})
UPDATE_CELLS_FIELDS = frozenset({"rows", "fields", "start", "range"})
GRID_COORDINATE_FIELDS = frozenset({"sheetId", "rowIndex", "columnIndex"})
GRID_RANGE_FIELDS = frozenset(
    {"sheetId", "startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex"}
)
ROW_DATA_FIELDS = frozenset({"values"})
CELL_DATA_FIELDS = frozenset(
    {
        "userEnteredValue",
        "effectiveValue",
        "formattedValue",
        "userEnteredFormat",
        "effectiveFormat",
        "hyperlink",
        "note",
        "textFormatRuns",
        "dataValidation",
        "pivotTable",
        "dataSourceTable",
        "dataSourceFormula",
        "chipRuns",
    }
)
# what a cell may set beyond its value (the rest is output only, ignored on a write)
UNSERVED_CELL_FIELDS = frozenset(
    {
        "userEnteredFormat",
        "note",
        "textFormatRuns",
        "dataValidation",
        "pivotTable",
        "dataSourceTable",
        "chipRuns",
    }
)
SERVED_CELL_MASKS = frozenset({"*", "userEnteredValue"})
EXTENDED_VALUE_FIELDS = frozenset(
    {"stringValue", "numberValue", "boolValue", "formulaValue", "errorValue"}
)
DIMENSIONS = ("DIMENSION_UNSPECIFIED", "ROWS", "COLUMNS")
COMMENTS_VIEW_MODES = (
    "COMMENTS_VIEW_MODE_UNSPECIFIED",
    "COMMENTS_VIEW_MODE_DEFAULT_FOR_CURRENT_ACCESS",
    "COMMENTS_VIEW_MODE_OMITTED",
    "COMMENTS_VIEW_MODE_INCLUDED",
)
_SHEETS_TYPE = "type.googleapis.com/google.apps.sheets.v4"
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


@functools.cache
def request_kinds() -> frozenset[str]:
    """Every kind of Request that Sheets v4 knows (the discovery document's Request schema):
    a kind outside it is an unknown field, one inside it but not served is refused as such."""
    document = json.loads(discovery_cache.get_static_doc("sheets", "v4") or "{}")
    kinds = document.get("schemas", {}).get("Request", {}).get("properties", {})
    return frozenset(kinds) | frozenset(SERVED_REQUESTS)


def check_bool(value: Any, where: str) -> bool:
    """A boolean query parameter or JSON field."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidArgument(f"Invalid value at '{where}' (TYPE_BOOL), {json.dumps(value)}")


def _check_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"Invalid value at '{where}' (TYPE_INT32), {json.dumps(value)}")
    if value < 0:
        raise InvalidArgument(f"Invalid value at '{where}': {value} must not be negative.")
    return value


def _check_list(value: Any, where: str, schema: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidArgument(
            f"Invalid value at '{where}' ({_SHEETS_TYPE}.{schema}), {json.dumps(value)}"
        )
    return value


def _check_ints(value: Any, where: str, known: frozenset[str]) -> dict[str, Any]:
    """A GridCoordinate or GridRange: known fields, each a non-negative int."""
    value = _check_object(value, where)
    check_known_fields(value, known, where)
    for name, number in value.items():
        _check_int(number, f"{where}.{_snake(name)}")
    return value


def _one_of(value: dict[str, Any], names: tuple[str, ...] | frozenset[str], oneof: str) -> None:
    given = [name for name in value if name in names]
    if len(given) > 1:
        raise InvalidArgument(
            f"Invalid JSON payload received. Oneof field '{oneof}' is already set. "
            f"Cannot set '{given[1]}'"
        )


def check_spreadsheet_batch_update_body(body: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The spreadsheets.batchUpdate body: known fields everywhere, exactly one kind per
    request, only the kinds the emulator serves, the shapes of their parts. Returns the
    requests and the other top-level fields."""
    body = _check_object(body, "")
    check_known_fields(body, BATCH_UPDATE_SPREADSHEET_FIELDS, "")
    requests = _check_list(body.get("requests", []), "requests", "Request")
    if not requests:
        raise InvalidArgument("Must specify at least one request.")
    for index, request in enumerate(requests):
        where = f"requests[{index}]"
        request = _check_object(request, where)
        check_known_fields(request, request_kinds(), where)
        _one_of(request, request_kinds(), "kind")
        if not request:
            raise InvalidArgument(f"Invalid {where}: No request set.")
        ((kind, spec),) = request.items()
        if kind not in SERVED_REQUESTS:
            raise InvalidArgument(
                f"Invalid {where}: {kind} is not served by the emulator "
                f"(it serves {' and '.join(SERVED_REQUESTS)})."
            )
        spec_where = f"{where}.{_snake(kind)}"
        spec = _check_object(spec, spec_where)
        if kind == "appendDimension":
            _check_append_dimension(spec, spec_where)
        else:
            _check_update_cells(spec, spec_where, f"Invalid {where}.{kind}")
    options = {name: body[name] for name in body if name != "requests"}
    for name in ("includeSpreadsheetInResponse", "responseIncludeGridData"):
        if name in options:
            options[name] = check_bool(options[name], _snake(name))
    ranges = _check_list(options.get("responseRanges", []), "response_ranges", "string")
    for position, text in enumerate(ranges):
        if not isinstance(text, str):
            raise InvalidArgument(
                f"Invalid value at 'response_ranges[{position}]' (TYPE_STRING), {json.dumps(text)}"
            )
    mode = options.get("commentsViewMode", "COMMENTS_VIEW_MODE_UNSPECIFIED")
    if mode not in COMMENTS_VIEW_MODES:
        raise InvalidArgument(
            f"Invalid value at 'comments_view_mode' ({_SHEETS_TYPE}.CommentsViewMode), "
            f"{json.dumps(mode)}"
        )
    return requests, options


def _check_append_dimension(spec: dict[str, Any], where: str) -> None:
    check_known_fields(spec, APPEND_DIMENSION_FIELDS, where)
    for name in ("sheetId", "length"):
        if name in spec:
            _check_int(spec[name], f"{where}.{_snake(name)}")
    dimension = spec.get("dimension", "DIMENSION_UNSPECIFIED")
    if dimension not in DIMENSIONS:
        raise InvalidArgument(
            f"Invalid value at '{where}.dimension' ({_SHEETS_TYPE}.Dimension), "
            f"{json.dumps(dimension)}"
        )


def _check_update_cells(spec: dict[str, Any], where: str, invalid: str) -> None:
    check_known_fields(spec, UPDATE_CELLS_FIELDS, where)
    _one_of(spec, ("start", "range"), "area")
    if "start" in spec:
        _check_ints(spec["start"], f"{where}.start", GRID_COORDINATE_FIELDS)
    elif "range" in spec:
        _check_ints(spec["range"], f"{where}.range", GRID_RANGE_FIELDS)
    else:
        raise InvalidArgument(f"{invalid}: Either start or range must be set.")
    fields = spec.get("fields", "")
    if not isinstance(fields, str):
        raise InvalidArgument(
            f"Invalid value at '{where}.fields' (TYPE_STRING), {json.dumps(fields)}"
        )
    masks = {name.strip() for name in fields.split(",") if name.strip()}
    if not masks:
        raise InvalidArgument(f"{invalid}: At least one field must be specified.")
    for mask in sorted(masks - SERVED_CELL_MASKS):
        if mask.split(".")[0] in CELL_DATA_FIELDS:
            raise InvalidArgument(
                f"{invalid}: the field {mask!r} is not served by the emulator (it writes "
                "userEnteredValue; fields may be 'userEnteredValue' or '*')."
            )
        raise InvalidArgument(f"{invalid}: Invalid field mask: {mask}")
    rows = _check_list(spec.get("rows", []), f"{where}.rows", "RowData")
    for r, row in enumerate(rows):
        row_where = f"{where}.rows[{r}]"
        row = _check_object(row, row_where)
        check_known_fields(row, ROW_DATA_FIELDS, row_where)
        cells = _check_list(row.get("values", []), f"{row_where}.values", "CellData")
        for c, cell in enumerate(cells):
            cell_where = f"{row_where}.values[{c}]"
            cell = _check_object(cell, cell_where)
            check_known_fields(cell, CELL_DATA_FIELDS, cell_where)
            unserved = sorted(UNSERVED_CELL_FIELDS & set(cell))
            if unserved and "*" in masks:  # outside the mask Google ignores them
                raise InvalidArgument(
                    f"{invalid}: the cell field {unserved[0]!r} is not served by the emulator."
                )
            if "userEnteredValue" in cell:
                _check_extended_value(
                    cell["userEnteredValue"], f"{cell_where}.user_entered_value", invalid
                )


def _check_extended_value(value: Any, where: str, invalid: str) -> None:
    value = _check_object(value, where)
    check_known_fields(value, EXTENDED_VALUE_FIELDS, where)
    _one_of(value, EXTENDED_VALUE_FIELDS, "value")
    for name, typed in value.items():
        at = f"{where}.{_snake(name)}"
        if name == "errorValue":
            raise InvalidArgument(f"{invalid}: errorValue cannot be written (at '{at}').")
        if name == "numberValue":
            if isinstance(typed, bool) or not isinstance(typed, int | float):
                raise InvalidArgument(f"Invalid value at '{at}' (TYPE_DOUBLE), {json.dumps(typed)}")
            if typed != typed or typed in (float("inf"), float("-inf")):
                raise InvalidArgument(f"Invalid value at '{at}' (TYPE_DOUBLE), {typed}")
        elif name == "boolValue":
            if not isinstance(typed, bool):
                raise InvalidArgument(f"Invalid value at '{at}' (TYPE_BOOL), {json.dumps(typed)}")
        elif not isinstance(typed, str):
            raise InvalidArgument(f"Invalid value at '{at}' (TYPE_STRING), {json.dumps(typed)}")
