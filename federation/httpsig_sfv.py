"""RFC 8941 structured fields: the subset HTTP message signatures need.

``Signature-Input``, ``Signature`` and ``Content-Digest`` are dictionaries of
items and inner lists with parameters. This module parses such a dictionary and
serializes items and inner lists back to their canonical text, which RFC 9421
needs for the ``@signature-params`` line. Dates and display strings (RFC 9651)
are not supported. Every parse failure raises :class:`SFError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

_DIGITS = "0123456789"
_LCALPHA = "abcdefghijklmnopqrstuvwxyz"
_KEY_FIRST = _LCALPHA + "*"
_KEY_REST = _LCALPHA + _DIGITS + "_-.*"
_TCHAR = "!#$%&'*+-.^_`|~" + _DIGITS + _LCALPHA + _LCALPHA.upper()
_TOKEN_REST = _TCHAR + ":/"
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_MAX_INTEGER = 999_999_999_999_999


class SFError(ValueError):
    """The text is not a valid structured field (or holds an unsupported type)."""


class Token(str):
    """An sf-token, told apart from an sf-string by its type."""

    __slots__ = ()


BareItem: TypeAlias = bool | int | Decimal | str | bytes
Params: TypeAlias = dict[str, BareItem]


@dataclass(frozen=True)
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    """A parenthesised list of items with its own parameters."""

    items: tuple[Item, ...]
    params: Params = field(default_factory=dict)


Member: TypeAlias = Item | InnerList


def parse_dictionary(text: str) -> dict[str, Member]:
    """Return the members of a dictionary field, in order (a repeated key keeps its last value).

    Raises SFError when ``text`` is not a valid dictionary.
    """
    return _Parser(text).dictionary()


def serialize_item(item: Item) -> str:
    """Return the canonical text of ``item``. Raises SFError for unserializable values."""
    return serialize_bare_item(item.value) + serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """Return the canonical text of ``inner``. Raises SFError for unserializable values."""
    body = " ".join(serialize_item(item) for item in inner.items)
    return f"({body}){serialize_params(inner.params)}"


def serialize_params(params: Params) -> str:
    """Return the canonical ``;key=value`` text of ``params``."""
    parts = []
    for key, value in params.items():
        _check_key(key)
        parts.append(f";{key}" if value is True else f";{key}={serialize_bare_item(value)}")
    return "".join(parts)


def serialize_bare_item(value: BareItem) -> str:
    """Return the canonical text of one bare item. Raises SFError for unserializable values."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > _MAX_INTEGER:
            raise SFError("integer out of range")
        return str(value)
    if isinstance(value, Decimal):
        return _serialize_decimal(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        first_ok = value[:1].isalpha() or value[:1] == "*"
        if not first_ok or not value.isascii() or any(c not in _TOKEN_REST for c in value):
            raise SFError("invalid token")
        return str(value)
    if any(not " " <= c <= "~" for c in value):
        raise SFError("strings must be printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_decimal(value: Decimal) -> str:
    text = f"{abs(value) if value == 0 else value:.3f}".rstrip("0")
    if text.endswith("."):
        text += "0"
    if len(text.lstrip("-").split(".")[0]) > 12:
        raise SFError("decimal out of range")
    return text


def _check_key(key: str) -> None:
    if not key or key[0] not in _KEY_FIRST or any(c not in _KEY_REST for c in key):
        raise SFError("invalid key")


class _Parser:
    """A cursor over the field text; each method consumes what it parses."""

    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise SFError("structured fields are ASCII")
        self.text = text.strip(" ")
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        while self.pos < len(self.text):
            key = self.key()
            if self.peek() == "=":
                self.pos += 1
                members[key] = self.item_or_inner_list()
            else:
                members[key] = Item(True, self.params())
            self.skip(" \t")
            if self.pos >= len(self.text):
                return members
            if self.peek() != ",":
                raise SFError("expected a comma between members")
            self.pos += 1
            self.skip(" \t")
            if self.pos >= len(self.text):
                raise SFError("trailing comma")
        return members

    def item_or_inner_list(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        return self.item()

    def inner_list(self) -> InnerList:
        self.pos += 1
        items: list[Item] = []
        while self.pos < len(self.text):
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise SFError("expected a space or ')' in an inner list")
        raise SFError("unterminated inner list")

    def item(self) -> Item:
        value = self.bare_item()
        return Item(value, self.params())

    def params(self) -> Params:
        params: Params = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[key] = value
        return params

    def key(self) -> str:
        start = self.pos
        if self.peek() == "" or self.peek() not in _KEY_FIRST:
            raise SFError("invalid key")
        self.pos += 1
        self.skip(_KEY_REST)
        return self.text[start : self.pos]

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == "":
            raise SFError("missing value")
        if char == "-" or char in _DIGITS:
            return self.number()
        if char == '"':
            return self.string()
        if char == ":":
            return self.byte_sequence()
        if char == "?":
            return self.boolean()
        if char == "*" or char.isalpha():
            return self.token()
        raise SFError("unsupported value")

    def number(self) -> int | Decimal:
        negative = self.peek() == "-"
        if negative:
            self.pos += 1
        start = self.pos
        if self.peek() == "" or self.peek() not in _DIGITS:
            raise SFError("invalid number")
        is_decimal = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in _DIGITS:
                self.pos += 1
            elif char == "." and not is_decimal:
                if self.pos - start > 12:
                    raise SFError("decimal out of range")
                is_decimal = True
                self.pos += 1
            else:
                break
            if self.pos - start > (16 if is_decimal else 15):
                raise SFError("number too long")
        digits = self.text[start : self.pos]
        if not is_decimal:
            return -int(digits) if negative else int(digits)
        if digits.endswith(".") or len(digits.split(".")[1]) > 3:
            raise SFError("invalid decimal")
        return -Decimal(digits) if negative else Decimal(digits)

    def string(self) -> str:
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\"):
                    raise SFError("invalid escape in string")
                chars.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            elif not " " <= char <= "~":
                raise SFError("invalid character in string")
            else:
                chars.append(char)
        raise SFError("unterminated string")

    def token(self) -> Token:
        start = self.pos
        self.pos += 1
        self.skip(_TOKEN_REST)
        return Token(self.text[start : self.pos])

    def byte_sequence(self) -> bytes:
        end = self.text.find(":", self.pos + 1)
        if end < 0:
            raise SFError("unterminated byte sequence")
        encoded = self.text[self.pos + 1 : end]
        self.pos = end + 1
        if not _BASE64.fullmatch(encoded):
            raise SFError("invalid byte sequence")
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as exc:
            raise SFError("invalid byte sequence") from exc

    def boolean(self) -> bool:
        value = self.text[self.pos + 1 : self.pos + 2]
        if value not in ("0", "1"):
            raise SFError("invalid boolean")
        self.pos += 2
        return value == "1"
