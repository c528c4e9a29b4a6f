"""Values as they come back from the engine's wire format, made plain again."""
from __future__ import annotations

from typing import Any, Mapping


def plain(value: Any) -> Any:
    """Undo the protobuf Struct round trip, which turns every number into a float (1500 -> 1500.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def is_unknown(value: Any) -> bool:
    """True for a preview placeholder (anywhere inside `value`) whose real value is not known yet."""
    from pulumi.runtime import rpc

    if value == rpc.UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False
