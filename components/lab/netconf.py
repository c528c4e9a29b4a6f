"""Turns a NAD's CNI config into what the plugin receives: Multus's "name" plus the lab's dataDir."""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Dict, Mapping, Optional, Tuple, Union

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PLUGIN_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The spec's network-name rule; host-local also uses the name as a directory under dataDir.
_NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
PREV_RESULT_SINCE = (0, 4, 0)


def load(config: Union[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Accept the config as the NAD carries it (JSON text) or already parsed; always a fresh dict."""
    if isinstance(config, str):
        try:
            parsed = json.loads(config)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config is not valid JSON: {exc}") from exc
    else:
        parsed = copy.deepcopy(dict(config))
    if not isinstance(parsed, dict):
        raise ValueError(f"config must be a JSON object, got {parsed!r}")
    return parsed


def version(config: Mapping[str, Any]) -> Tuple[int, int, int]:
    """The config's cniVersion as a comparable tuple."""
    raw = config.get("cniVersion")
    match = _VERSION.match(raw) if isinstance(raw, str) else None
    if not match:
        raise ValueError(f"cniVersion {raw!r} must look like '0.3.0' or '1.0.0'")
    return (int(match[1]), int(match[2]), int(match[3]))


def validate(config: Mapping[str, Any]) -> None:
    """Reject configs the lab cannot hand to a plugin (the plugin judges the rest itself)."""
    version(config)
    plugin = config.get("type")
    if not isinstance(plugin, str) or not _PLUGIN_TYPE.match(plugin):
        raise ValueError(f"config type {plugin!r} must name a plugin binary, e.g. 'macvlan'")
    ipam = config.get("ipam")
    if ipam is not None:
        if not isinstance(ipam, dict):
            raise ValueError(f"config ipam {ipam!r} must be an object")
        ipam_type = ipam.get("type")
        if not isinstance(ipam_type, str) or not _PLUGIN_TYPE.match(ipam_type):
            raise ValueError(f"config ipam.type {ipam_type!r} must name a plugin binary, e.g. 'host-local'")


def prepare(
    config: Union[str, Mapping[str, Any]],
    nad_name: str,
    data_dir: str,
    prev_result: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """A copy with "name" (Multus sets it only when missing), ipam.dataDir and, from 0.4.0, prevResult."""
    conf = load(config)
    validate(conf)
    if not conf.get("name"):
        conf["name"] = nad_name
    if not isinstance(conf["name"], str) or not _NETWORK_NAME.match(conf["name"]):
        raise ValueError(f"network name {conf['name']!r} must match {_NETWORK_NAME.pattern}")
    if isinstance(conf.get("ipam"), dict):
        conf["ipam"]["dataDir"] = data_dir
    if prev_result is not None and version(conf) >= PREV_RESULT_SINCE:
        conf["prevResult"] = copy.deepcopy(dict(prev_result))
    return conf
