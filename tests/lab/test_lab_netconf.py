"""What the lab adds to a NAD config before a plugin sees it, and how results and errors are read."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from components.lab import netconf, result
from tests.lab.helpers import SEED_W0

TESTDATA = Path(__file__).parent / "testdata"
SEED_TEXT = (
    '{ "cniVersion": "0.3.0", "type": "macvlan", "master": "ens16f0", "mode": "bridge", "ipam": '
    '{ "type": "host-local", "ranges": [ [ { "subnet": "10.1.10.0/24", "rangeStart": "10.1.10.10", '
    '"rangeEnd": "10.1.10.19" } ], [ { "subnet": "fd10::/64", "rangeStart": "fd10::10", "rangeEnd": "fd10::19" } ] ] } }'
)


def test_prepare_adds_name_and_data_dir_without_touching_the_caller() -> None:
    original = copy.deepcopy(SEED_W0)
    conf = netconf.prepare(SEED_W0, "macvlan-w0-ens16f0", "/run/x/w0/ipam")
    assert SEED_W0 == original
    assert conf["name"] == "macvlan-w0-ens16f0"
    assert conf["ipam"]["dataDir"] == "/run/x/w0/ipam"
    assert conf["ipam"]["ranges"] == SEED_W0["ipam"]["ranges"]
    assert "prevResult" not in conf


def test_prepare_reads_the_nad_text_as_the_seed_shows_it() -> None:
    assert netconf.prepare(SEED_TEXT, "n", "/d") == netconf.prepare(SEED_W0, "n", "/d")


def test_an_existing_name_wins_like_multus() -> None:
    conf = netconf.prepare({**SEED_W0, "name": "mine"}, "macvlan-w0-ens16f0", "/d")
    assert conf["name"] == "mine"


@pytest.mark.parametrize(("version", "expected"), [("0.3.0", False), ("0.3.1", False), ("0.4.0", True), ("1.0.0", True)])
def test_prev_result_is_passed_from_0_4_0(version: str, expected: bool) -> None:
    conf = netconf.prepare({**SEED_W0, "cniVersion": version}, "n", "/d", prev_result={"ips": []})
    assert ("prevResult" in conf) is expected


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ({**SEED_W0, "cniVersion": "1"}, "cniVersion '1' must look like"),
        ({**SEED_W0, "type": "../sh"}, "type '../sh' must name a plugin binary"),
        ({**SEED_W0, "ipam": {"type": ""}}, "ipam.type '' must name a plugin binary"),
        ({**SEED_W0, "name": "../escape"}, "network name '../escape' must match"),
    ],
)
def test_bad_config_is_rejected(config: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        netconf.prepare(config, "n", "/d")  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["0.3.0", "1.0.0"])
def test_addresses_and_mac_from_real_results(version: str) -> None:
    raw = json.loads((TESTDATA / f"cni-result-{version}.json").read_text())
    found = result.addresses(raw)
    assert [a.split("/")[1] for a in found] == ["24", "64"]
    assert result.sandbox_mac(raw) == raw["interfaces"][0]["mac"]


def test_addresses_from_a_0_2_0_result() -> None:
    raw = {"cniVersion": "0.2.0", "ip4": {"ip": "10.1.10.10/24"}, "ip6": {"ip": "fd10::10/64"}}
    assert result.addresses(raw) == ("10.1.10.10/24", "fd10::10/64")
    assert result.sandbox_mac(raw) is None


def test_malformed_address_fails_at_parse() -> None:
    with pytest.raises(ValueError):
        result.addresses({"ips": [{"address": "10.1.10.300/24"}]})


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("cni-error-master-missing.json", "Link not found (code 999)"),
        (
            "cni-error-version.json",
            'incompatible CNI versions: config is "1.1.0", plugin supports '
            '["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0"] (code 1)',
        ),
    ],
)
def test_error_message_from_real_plugin_errors(fixture: str, expected: str) -> None:
    text, err = result.error_message((TESTDATA / fixture).read_text())
    assert text == expected
    assert err is not None and "msg" in err


def test_error_message_of_non_json_output_is_the_text() -> None:
    assert result.error_message("boom\n") == ("boom", None)
