"""ExampleGen's CustomConfig and PayloadFormat (TFX's example_gen.proto).

``PayloadFormat`` members are ints with TFX's numbers, so ``ImportExampleGen(payload_format=
PayloadFormat.FORMAT_PARQUET)`` and the number 15 mean the same; ``payload_format_key`` maps
either (or a name) to ImportExampleGen's own key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beampipe.proto._message import ProtoEnum


class PayloadFormat(ProtoEnum):
    """What the records an ExampleGen writes are."""

    FORMAT_UNSPECIFIED = 0
    FORMAT_TF_EXAMPLE = 6
    FORMAT_TF_SEQUENCE_EXAMPLE = 7
    FORMAT_PROTO = 11
    FORMAT_PARQUET = 15


FORMAT_UNSPECIFIED = PayloadFormat.FORMAT_UNSPECIFIED
FORMAT_TF_EXAMPLE = PayloadFormat.FORMAT_TF_EXAMPLE
FORMAT_TF_SEQUENCE_EXAMPLE = PayloadFormat.FORMAT_TF_SEQUENCE_EXAMPLE
FORMAT_PROTO = PayloadFormat.FORMAT_PROTO
FORMAT_PARQUET = PayloadFormat.FORMAT_PARQUET


def payload_format_key(value: Any) -> str:
    """A PayloadFormat (member, number or name like 'FORMAT_PARQUET' / 'parquet') as a lower-case
    key without the FORMAT_ prefix: 'tf_example', 'parquet', 'tf_sequence_example', ..."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            value = PayloadFormat(value).name
        except ValueError:
            raise ValueError(f"payload_format {value} is not a PayloadFormat; numbers are "
                             f"{dict(PayloadFormat.items())}") from None
    key = str(value).lower()
    return key[len("format_"):] if key.startswith("format_") else key


@dataclass
class CustomConfig:
    """Free-form config for a custom ExampleGen executor; TFX wraps it in a protobuf ``Any``.

    Give a dict (kept as is) or a protobuf message (kept as its JSON dict; an ``Any`` keeps its
    ``@type``), so it travels in the IR like every other parameter."""

    custom_config: Any = None

    def __post_init__(self) -> None:
        if self.custom_config is not None and hasattr(self.custom_config, "DESCRIPTOR"):
            from google.protobuf import json_format
            message = self.custom_config
            self.custom_config = json_format.MessageToDict(message, preserving_proto_field_name=True)
            if message.DESCRIPTOR.full_name != "google.protobuf.Any":
                self.custom_config["@type"] = "type.googleapis.com/" + message.DESCRIPTOR.full_name
