"""Value artifacts: small values (a number, a string, JSON) that live in one file.

TFX's ``String``, ``Integer``, ``Float``, ``Boolean``, ``Bytes`` and ``JsonValue``, with TFX's
encodings byte for byte (Integer as decimal text, Boolean ``1``/``0``, Float via ``str`` with
``Infinity``/``-Infinity``/``NaN``, JSON with sorted keys, Bytes raw), so a value written by
one tool reads in the other. ``.value`` reads and writes it; a ``None`` value is an empty file
plus the custom property ``__is_null__ = 1``, as in TFX.

Where beampipe differs: the artifact URI is a directory like every other artifact's
(``<root>/<node>/<key>/<id>/``) and the value is its file ``value`` (TFX records the file itself
as the URI). Reading an imported URI that is itself a file reads that file, so an Importer of a
TFX-written value works.

This module sits below the storage layer, so it opens local files itself; ``beampipe.io``
installs its opener (``use_storage``) so ``s3://`` and ``gs://`` URIs work too.
"""
from __future__ import annotations

import builtins
import decimal
import json
import logging
import math
import os
from typing import IO, Any, Callable

from beampipe.metadata import layout
from beampipe.metadata.artifacts import STANDARD_TYPES, Artifact

VALUE_FILE = "value"
IS_NULL_KEY = "__is_null__"

_log = logging.getLogger(__name__)
_Opener = Callable[[str, str], IO[bytes]]
_storage_open: _Opener | None = None


def use_storage(opener: _Opener) -> None:
    """Open value files through the storage layer (``beampipe.io.open``), remote URIs included."""
    global _storage_open
    _storage_open = opener


def _open(uri: str, mode: str) -> IO[bytes]:
    if _storage_open is not None:
        return _storage_open(uri, mode)
    if "://" in uri:
        raise RuntimeError(f"value artifact at {uri}: reading a remote URI needs the storage layer; "
                           "import beampipe.io first")
    if "w" in mode:
        os.makedirs(os.path.dirname(uri) or ".", exist_ok=True)
    return builtins.open(uri, mode)


class ValueArtifact(Artifact):
    """An artifact whose payload is one small value, read and written through ``.value``."""

    TYPE_NAME = "ValueArtifact"

    def __init__(self, uri: str = "") -> None:
        super().__init__(uri)
        self._has_value = False
        self._value: Any = None

    def value_file(self) -> str:
        """``<uri>/value``: the one file the value lives in."""
        return layout.join(self.uri, VALUE_FILE)

    def read(self) -> Any:
        """Load the value from storage (once); TFX's ``ValueArtifact.read``."""
        if self._has_value:
            return self._value
        if int(self.custom_properties.get(IS_NULL_KEY) or 0):
            self._has_value, self._value = True, None
            return None
        try:
            with _open(self.value_file(), "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            try:  # an imported TFX value artifact: the URI is the file
                with _open(self.uri, "rb") as f:
                    data = f.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise FileNotFoundError(f"{self.TYPE_NAME} artifact at {self.uri}: no value file "
                                        f"{self.value_file()}") from None
        self._value = self.decode(data)
        self._has_value = True
        return self._value

    def write(self, value: Any) -> None:
        """Encode and store the value now (TFX writes on assignment too)."""
        data = b"" if value is None else self.encode(value)
        self.custom_properties[IS_NULL_KEY] = int(value is None)
        with _open(self.value_file(), "wb") as f:
            f.write(data)

    @property
    def value(self) -> Any:
        """The value; read from storage on first use (TFX requires an explicit ``read()``
        first and raises otherwise; reading here is what a user means)."""
        return self.read()

    @value.setter
    def value(self, value: Any) -> None:
        self.write(value)
        self._value, self._has_value = value, True

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError


class String(ValueArtifact):
    """UTF-8 text."""

    TYPE_NAME = "String"
    LAYOUT = f"file `{VALUE_FILE}`: UTF-8 text"

    def encode(self, value: str) -> bytes:
        if not isinstance(value, str):
            raise TypeError(f"String artifact: expected str, got {value!r} of type {type(value).__name__}")
        return value.encode("utf-8")

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8")


class Integer(ValueArtifact):
    """An int as decimal text."""

    TYPE_NAME = "Integer"
    LAYOUT = f"file `{VALUE_FILE}`: decimal text"

    def encode(self, value: int) -> bytes:
        if not isinstance(value, int):
            raise TypeError(f"Integer artifact: expected int, got {value!r} of type {type(value).__name__}")
        return str(value).encode("utf-8")

    def decode(self, data: bytes) -> int:
        return int(data)


class Float(ValueArtifact):
    """A float as Python's ``str``; infinities and NaN spelled as TFX spells them."""

    TYPE_NAME = "Float"
    LAYOUT = f"file `{VALUE_FILE}`: `str(float)`, or `Infinity` / `-Infinity` / `NaN`"
    _SPECIAL = {math.inf: "Infinity", -math.inf: "-Infinity"}

    def encode(self, value: float) -> bytes:
        if not isinstance(value, float):
            raise TypeError(f"Float artifact: expected float, got {value!r} of type {type(value).__name__}")
        if math.isnan(value):
            return b"NaN"
        return self._SPECIAL.get(value, str(value)).encode("utf-8")

    def decode(self, data: bytes) -> float:
        result = float(data)
        text = data.decode("utf-8")
        if math.isfinite(result) and decimal.Decimal(text) != decimal.Decimal(str(result)):
            _log.warning("Float artifact: %r lost precision as %r", text, result)
        return result


class Boolean(ValueArtifact):
    """``1`` for True, ``0`` for False."""

    TYPE_NAME = "Boolean"
    LAYOUT = f"file `{VALUE_FILE}`: `1` or `0`"

    def encode(self, value: bool) -> bytes:
        if not isinstance(value, bool):
            raise TypeError(f"Boolean artifact: expected bool, got {value!r} of type {type(value).__name__}")
        return b"1" if value else b"0"

    def decode(self, data: bytes) -> bool:
        return int(data) != 0


class Bytes(ValueArtifact):
    """Raw bytes, as given."""

    TYPE_NAME = "Bytes"
    LAYOUT = f"file `{VALUE_FILE}`: the raw bytes"

    def encode(self, value: bytes) -> bytes:
        if not isinstance(value, bytes):
            raise TypeError(f"Bytes artifact: expected bytes, got {value!r} of type {type(value).__name__}")
        return value

    def decode(self, data: bytes) -> bytes:
        return data


class JsonValue(ValueArtifact):
    """Any JSON-able value (dict, list, number, string, bool), keys sorted."""

    TYPE_NAME = "JsonValue"
    LAYOUT = f"file `{VALUE_FILE}`: JSON (keys sorted)"

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, sort_keys=True).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


VALUE_TYPES: dict[str, type[ValueArtifact]] = {
    cls.TYPE_NAME: cls for cls in (String, Integer, Float, Boolean, Bytes, JsonValue)}

PRIMITIVE_TYPES: dict[type, type[ValueArtifact]] = {
    int: Integer, float: Float, str: String, bytes: Bytes, bool: Boolean}

STANDARD_TYPES.update(VALUE_TYPES)  # standard types by name, so the store rebuilds them with .value
