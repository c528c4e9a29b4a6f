"""Values as they come back from the engine's wire format, made plain again (shared by the providers)."""
from __future__ import annotations

from typing import Any, Mapping


def plain(value: Any) -> Any:
    """Undo the gRPC Struct round trip: secrets unwrapped, integral floats back to ints (1500.0 -> 1500)."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def is_unknown(value: Any) -> bool:
    """True for a preview placeholder (anywhere inside `value`) whose real value is not known yet."""
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    if isinstance(value, Unknown):  # what the provider server's deserialize_properties(keep_unknowns=True) gives
        return True
    if isinstance(value, str):
        return value == rpc.UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False
