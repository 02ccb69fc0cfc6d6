"""Decode request bodies and socket payloads into msgspec Structs, naming every bad field.

msgspec stops at the first error; clients fixing a form want all of them, so a body that fails is
converted again field by field to name each problem (limits live in the field's
`Annotated[..., Meta(...)]`), and a `Meta(extra={"msg": ...})` replaces msgspec's wording with a
friendlier one. A body that passes is converted once, whole: every socket event comes through here,
so the happy path reads each type's fields from a per-type cache and makes one `msgspec.convert`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

import msgspec

from engine.errors import DomainError, validation_error

T = TypeVar("T", bound=msgspec.Struct)

_json_decoder = msgspec.json.Decoder()
_PATH_SUFFIX = re.compile(r" - at `\$.*`$")


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the checks need of a Struct type, read once per type (msgspec.structs.fields is slow)."""

    fields: tuple[msgspec.structs.FieldInfo, ...]
    names: tuple[str, ...]  # encode names, in field order
    required: tuple[str, ...]


@cache
def _shape(struct_type: type[msgspec.Struct]) -> _Shape:
    fields = msgspec.structs.fields(struct_type)
    return _Shape(fields, tuple(f.encode_name for f in fields), tuple(f.encode_name for f in fields if f.required))


def _friendly(field_type: Any, error: msgspec.ValidationError, name: str) -> str:
    """The message for a field that failed: its own `Meta(extra={"msg": ...})` (also through an
    optional type), else msgspec's error told in the words of the rest of the API."""
    info = msgspec.inspect.type_info(field_type)
    candidates = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    for candidate in candidates:
        if isinstance(candidate, msgspec.inspect.Metadata) and candidate.extra and "msg" in candidate.extra:
            return str(candidate.extra["msg"])
    return describe(name, str(error))


# msgspec's wording of an error, and the API's (Laravel's) for the same problem.
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_TYPE_NAMES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
               "array": "an array", "object": "an object", "null": "null"}  # fmt: skip
_BOUND = re.compile(r"^Expected `(?P<kind>\w+)` (?:of length )?(?P<op><=|>=|<|>) (?P<n>-?[\d.]+)$")
_BOUND_WORDS = {
    "str": {"<=": "must not be greater than {n} characters", ">=": "must be at least {n} characters"},
    "array": {"<=": "must not have more than {n} items", ">=": "must have at least {n} items"},
    "object": {"<=": "must not have more than {n} items", ">=": "must have at least {n} items"},
    "number": {"<=": "must not be greater than {n}", ">=": "must be at least {n}", "<": "must be less than {n}",
               ">": "must be greater than {n}"},
}  # fmt: skip
_WRONG_TYPE = re.compile(r"^Expected `(?P<want>[^`]+)`, got `\w+`$")
_FIELD_NAMED = re.compile(r"^Object (?P<what>missing required|contains unknown) field `(?P<field>[^`]+)`$")


def describe(name: str, raw: str) -> str:
    """msgspec's message for field `name` (with its path inside the field, as `social_links.0.url`)."""
    path = _PATH.search(raw)
    message = _PATH.sub("", raw)
    if path:
        name += re.sub(r"\[(\d+)\]", r".\1", path["path"])
    if m := _FIELD_NAMED.match(message):
        ending = "is required" if m["what"] == "missing required" else "is not allowed"
        return f"The {name}.{m['field']} field {ending}."
    if m := _BOUND.match(message):
        kind = m["kind"] if m["kind"] in ("str", "array", "object") else "number"
        words = _BOUND_WORDS[kind].get(m["op"])
        if words:
            return f"The {name} field {words.format(n=m['n'])}."
    if message.startswith("Expected `str` matching regex"):
        return f"The {name} field format is invalid."
    if message.startswith("Invalid enum value"):
        return f"The selected {name} is invalid."
    if m := _WRONG_TYPE.match(message):
        wanted = [_TYPE_NAMES.get(kind.strip(), kind.strip()) for kind in m["want"].split("|")]
        wanted = [w for w in wanted if w != "null"] or wanted
        return f"The {name} field must be {' or '.join(wanted)}."
    return f"The {name} field is invalid: {message[:1].lower()}{message[1:]}."


def _text_problem(value: Any) -> str | None:
    """What is wrong with the strings anywhere in `value`, if anything (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
                return "must not contain NUL characters"
            if not item.isascii() and not _encodes(item):
                # A lone surrogate (JSON allows the escape) cannot be stored, sent or logged as UTF-8.
                return "must be valid UTF-8 text"
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class CheckedFields(Generic[T]):
    """A body checked field by field, before it becomes a `T`.

    `valid` holds the converted value of each field that passed its type check, so rules that need
    more than the type (a database lookup, the age from a date) can run on them and add their
    problems to the type errors: the client then hears about every bad field in one answer.
    """

    struct_type: type[T]
    data: dict[str, Any]
    valid: dict[str, Any]
    problems: dict[str, list[str]]
    strict: bool

    def build(self, more: Mapping[str, list[str]] | None = None) -> T:
        """The `T`, or one validation error naming every problem (in the struct's field order)."""
        problems = {**self.problems, **(more or {})}
        if problems:
            order = _shape(self.struct_type).names
            ranked = sorted(problems, key=lambda name: order.index(name) if name in order else len(order))
            raise validation_error({name: problems[name] for name in ranked})
        try:
            return msgspec.convert(self.data, self.struct_type, strict=self.strict)
        except msgspec.ValidationError as exc:  # a cross-field rule in __post_init__
            raise validation_error({"body": [_PATH_SUFFIX.sub("", str(exc))]}) from exc


def check_fields(struct_type: type[T], data: Any, *, strict: bool = True) -> CheckedFields[T]:
    """Check each field of an already-decoded mapping against `struct_type` on its own.

    `strict=False` accepts numbers and booleans written as strings (form-encoded bodies).
    """
    if not isinstance(data, dict):
        raise DomainError("invalid_body", "The body must be a JSON object.", status=400)
    valid: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for field in _shape(struct_type).fields:
        if field.encode_name not in data or (data[field.encode_name] is None and field.required):
            if field.required:
                problems[field.encode_name] = [f"The {field.encode_name} field is required."]
            continue
        value = data[field.encode_name]
        problem = _text_problem(value)
        if problem is not None:
            problems[field.encode_name] = [f"The {field.encode_name} field {problem}."]
            continue
        try:
            valid[field.encode_name] = msgspec.convert(value, field.type, strict=strict)
        except msgspec.ValidationError as exc:
            problems[field.encode_name] = [_friendly(field.type, exc, field.encode_name)]
    return CheckedFields(struct_type, data, valid, problems, strict)


def convert_fields(struct_type: type[T], data: Any, *, strict: bool = True) -> T:
    """Convert an already-decoded mapping into `struct_type`, reporting each bad field."""
    if isinstance(data, dict) and _passes_text_checks(_shape(struct_type), data):
        try:
            return msgspec.convert(data, struct_type, strict=strict)
        except msgspec.ValidationError:
            pass  # the field-by-field pass below names every problem, in the words clients expect
    return check_fields(struct_type, data, strict=strict).build()


def _passes_text_checks(shape: _Shape, data: dict[str, Any]) -> bool:
    """Whether `check_fields` would find no problem msgspec cannot see: a required field sent as
    null (msgspec accepts it for an optional type) or text that cannot be stored."""
    for name in shape.required:
        if data.get(name) is None:
            return False
    return all(_text_problem(data[name]) is None for name in shape.names if name in data)


def check_no_nul(field: str, value: Any) -> None:
    """Refuse text that cannot be stored: NUL characters, or strings that do not encode as UTF-8."""
    problem = _text_problem(value)
    if problem is not None:
        raise validation_error({field: [f"The {field} field {problem}."]})


def decode_json(raw: bytes) -> Any:
    """Raw JSON bytes as Python data (an empty body is an empty object); bad JSON is a 400."""
    if not raw.strip():
        return {}
    try:
        return _json_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise DomainError("invalid_json", "The body is not valid JSON.", status=400) from exc


def decode_json_body(struct_type: type[T], raw: bytes) -> T:
    """Decode raw JSON bytes into `struct_type`; bad JSON and wrong shapes become 4xx errors."""
    return convert_fields(struct_type, decode_json(raw))
