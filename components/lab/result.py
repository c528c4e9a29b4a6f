"""Reads CNI success and error JSON of every spec version the Debian plugins speak."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, List, Mapping, Optional, Tuple


def addresses(result: Mapping[str, Any]) -> Tuple[str, ...]:
    """CIDR addresses from a result: `ips[].address` (0.3.0+) or `ip4.ip`/`ip6.ip` (0.1/0.2)."""
    found: List[str] = []
    if "ips" in result:
        found = [ip["address"] for ip in result.get("ips") or []]
    else:
        found = [result[fam]["ip"] for fam in ("ip4", "ip6") if isinstance(result.get(fam), Mapping)]
    for cidr in found:
        ipaddress.ip_interface(cidr)  # a malformed result fails here, not in a check later
    return tuple(found)


def sandbox_mac(result: Mapping[str, Any]) -> Optional[str]:
    """MAC of the interface the addresses belong to, or of the first one inside a sandbox."""
    interfaces = result.get("interfaces") or []
    for ip in result.get("ips") or []:
        index = ip.get("interface")
        if isinstance(index, int) and 0 <= index < len(interfaces) and interfaces[index].get("mac"):
            return str(interfaces[index]["mac"])
    for iface in interfaces:
        if iface.get("sandbox") and iface.get("mac"):
            return str(iface["mac"])
    return None


def error_message(stdout: str) -> Tuple[str, Optional[Mapping[str, Any]]]:
    """The plugin's error JSON as 'msg: details (code N)', plus the parsed object when it was JSON."""
    try:
        err = json.loads(stdout)
    except (json.JSONDecodeError, TypeError):
        return (stdout.strip(), None)
    if not isinstance(err, dict):
        return (stdout.strip(), None)
    text = str(err.get("msg", ""))
    if err.get("details"):
        text = f"{text}: {err['details']}"
    if "code" in err:
        text = f"{text} (code {err['code']})"
    return (text, err)
