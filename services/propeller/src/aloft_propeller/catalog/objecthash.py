"""Flyte's protobuf hash (flytestdlib/pbhash): objecthash of the message's proto3 JSON form.

Go marshals the message with jsonpb (camelCase names, defaults omitted, int64 as strings, enums by name) and hashes
the JSON with Ben Laurie's objecthash (``CommonJSONHash``: every JSON number is a float64). We build the same JSON
value with ``MessageToDict`` and hash it with the same rules, so keys written by Aloft match Flyte's.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

_MAX_FLOAT_DIGITS = 1000


def compute_hash(message: Message) -> bytes:
    """The 32-byte hash Flyte's ``pbhash.ComputeHash`` returns for ``message``."""
    return hash_json_value(json_format.MessageToDict(message))


def hash_json_value(value: Any) -> bytes:
    if value is None:
        return _tagged(b"n", b"")
    if isinstance(value, bool):
        return _tagged(b"b", b"1" if value else b"0")
    if isinstance(value, (int, float)):
        return _tagged(b"f", _normalize_float(float(value)).encode())
    if isinstance(value, str):
        return _tagged(b"u", value.encode("utf-8"))
    if isinstance(value, list):
        return _tagged(b"l", b"".join(hash_json_value(item) for item in value))
    if isinstance(value, dict):
        pairs = sorted(hash_json_value(str(k)) + hash_json_value(v) for k, v in value.items())
        return _tagged(b"d", b"".join(pairs))
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def _tagged(tag: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(tag + payload).digest()


def _normalize_float(number: float) -> str:
    """objecthash's float form: sign, binary exponent, then the mantissa bits of a value in (0.5, 1]."""
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"cannot hash the float {number}")
    if number == 0:
        return "+0:"
    sign = "+"
    if number < 0:
        sign, number = "-", -number
    exponent = 0
    while number > 1:
        number /= 2
        exponent += 1
    while number <= 0.5:
        number *= 2
        exponent -= 1
    text = f"{sign}{exponent}:"
    while number != 0:
        if number >= 1:
            text += "1"
            number -= 1
        else:
            text += "0"
        if len(text) >= _MAX_FLOAT_DIGITS:
            raise ValueError("float mantissa too long to normalise")
        number *= 2
    return text
