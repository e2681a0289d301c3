"""Every request's input, bounded and checked before any route (or database) sees it.

One hook (``bounded_input``, the apps' ``before_request``) applies the same rules to the
store and the hub:

- text: no NUL byte anywhere (PostgreSQL refuses it in text, so it would surface as a
  500) in the path, the query, form fields or JSON strings; a path part is at most
  ``MAX_PARAM_CHARS``, a query value ``MAX_QUERY_CHARS``, a form field
  ``MAX_FORM_FIELD_CHARS``;
- JSON bodies (the machine APIs): ``Content-Type: application/json``, at most
  ``MAX_JSON_BYTES`` and ``MAX_JSON_DEPTH`` levels deep, not empty, and decoded
  *strictly* into the route's msgspec struct: ``"2"`` is not the number 2. The error
  names the field (``lines[0].quantity: expected int, got str``).

Litestar then decodes the same body again (leniently); that can no longer fail or coerce,
because the strict decode has already accepted it.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from app.core.words import count_of

MAX_JSON_BYTES = 256 * 1024  # an order of 200 lines is about 20 KB
MAX_JSON_DEPTH = 8  # the deepest body the API takes is 3 ({"lines": [{...}]})
MAX_PARAM_CHARS = 200  # a path part: ids, SKUs, codes, tokens
MAX_QUERY_CHARS = 500  # a query value: search words, filters, dates, a return path
MAX_FORM_FIELD_CHARS = 10_000  # a form field: the longest real one is a barcode list


class TooLarge(HTTPException):
    status_code = 413


class WrongMediaType(HTTPException):
    status_code = 415


def check_text(value: str, what: str, max_chars: int | None = None) -> str:
    """The one text sanitiser: refuses a NUL byte and text over `max_chars`."""
    if "\x00" in value:
        raise ValidationException(f"{what}: contains a NUL character (\\0); remove it")
    if max_chars is not None and len(value) > max_chars:
        raise ValidationException(f"{what}: longer than {count_of(max_chars, 'character')}")
    return value


def json_depth_over(body: bytes, limit: int) -> bool:
    """True if arrays/objects nest deeper than `limit` (brackets inside strings do not
    count). Checked on the raw bytes, before any recursive decoder runs."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


@functools.cache  # per request it cost more than the decoding (msgspec resolves the hints)
def example_of(struct: Any) -> str:
    """A one-line example of a JSON body for `struct`: its required fields."""
    if not (isinstance(struct, type) and issubclass(struct, msgspec.Struct)):
        return "{...}"
    required = [f.name for f in msgspec.structs.fields(struct) if f.required]
    if not required:
        return "{}"
    return "{" + ", ".join(f'"{name}": ...' for name in required) + "}"


def _field_path(message: str) -> tuple[str, str]:
    """msgspec's 'Expected `int`, got `str` - at `$.lines[0].quantity`' ->
    ('lines[0].quantity', 'expected int, got str')."""
    text, _sep, where = message.partition(" - at `")
    where = where.rstrip("`").removeprefix("$").lstrip(".")
    text = text.replace("`", "")
    return where, text[:1].lower() + text[1:]


def _strings_with_nul(value: Any, where: str = "") -> str | None:
    if isinstance(value, str):
        return where or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _strings_with_nul(key, where) or _strings_with_nul(
                item, f"{where}.{key}" if where else str(key))
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _strings_with_nul(item, f"{where}[{i}]")
            if found:
                return found
    return None


def decode_strict(body: bytes, content_type: str, target: Any) -> Any:
    """The body of a JSON API request, decoded strictly into `target`, or a 4xx saying
    exactly what is wrong."""
    example = example_of(target)
    if len(body) > MAX_JSON_BYTES:
        raise TooLarge(detail=f"request body is over {MAX_JSON_BYTES // 1024} KiB")
    if not body.strip():
        raise ValidationException(
            f"request body is empty: send a JSON object like {example} "
            "with Content-Type: application/json")
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise WrongMediaType(detail=f"send the body as JSON with Content-Type: "
                                    f"application/json (got {content_type or 'none'})")
    if json_depth_over(body, MAX_JSON_DEPTH):
        raise ValidationException(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValidationException(f"request body is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValidationException(f"request body must be a JSON object like {example}")
    nul = _strings_with_nul(raw)
    if nul:
        check_text("\x00", nul)
    try:
        return msgspec.convert(raw, type=target, strict=True)
    except msgspec.ValidationError as exc:
        where, problem = _field_path(str(exc))
        raise ValidationException(f"{where}: {problem}" if where else problem) from None


def _data_field(request: Request) -> tuple[Any, Any] | None:
    """(media type, annotation) of the route's `data` parameter, if it takes a body."""
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return None
    media = getattr(field.kwarg_definition, "media_type", RequestEncodingType.JSON)
    return media, field.annotation


async def bounded_input(request: Request) -> None:
    """The apps' before_request hook: refuse bad input before the handler runs."""
    if "\x00" in request.scope["path"]:
        raise NotFoundException("There is nothing at this address.")
    if any(isinstance(v, str) and len(v) > MAX_PARAM_CHARS
           for v in request.path_params.values()):
        raise NotFoundException("There is nothing at this address.")
    for name, value in request.query_params.multi_items():
        check_text(value, name, MAX_QUERY_CHARS)
    data = _data_field(request)
    if data is None or request.method in ("GET", "HEAD"):
        return
    media, annotation = data
    if media == RequestEncodingType.JSON:
        content_type = request.content_type[0]
        decode_strict(await request.body(), content_type, annotation)
    else:  # a page's form, url-encoded or multipart (an upload's file is checked apart)
        form = await request.form()
        for name, value in form.multi_items():
            if isinstance(value, str):
                check_text(value, name, MAX_FORM_FIELD_CHARS)
