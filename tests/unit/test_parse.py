"""Parsers against real tool outputs (the seed's busybox ones and captures in netns)."""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.checks import parse
from components.checks.parse import (
    Dns,
    IfconfigInterface,
    InterfaceAddrs,
    Iperf3Error,
    IperfResult,
    LinkStats,
    NetworkStatus,
    ParseError,
    PingStats,
    find_network_status,
    parse_busybox_ifconfig,
    parse_ip_addr_json,
    parse_ip_stats_json,
    parse_iperf3,
    parse_network_status,
    parse_ping,
    parse_tx_bytes,
)

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"


def fixture(name: str) -> str:
    return (TESTDATA / name).read_text()


def test_parse_module_is_pure() -> None:
    tree = ast.parse(Path(parse.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "functools", "json", "re", "dataclasses", "typing"}


# --- ping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ping-busybox-seed-ipv4.txt", PingStats(3, 3, 0, 0, 0.0, 0.184, 0.377, 0.753, None)),
        ("ping-busybox-seed-ipv6.txt", PingStats(3, 3, 0, 0, 0.0, 0.155, 0.377, 0.818, None)),
        ("ping-iputils-ipv4.txt", PingStats(3, 3, 0, 0, 0.0, 0.077, 8.882, 26.492, 12.451)),
        ("ping-iputils-ipv6.txt", PingStats(3, 3, 0, 0, 0.0, 0.071, 0.076, 0.082, 0.004)),
        ("ping-iputils-ipv4-loopback.txt", PingStats(3, 3, 0, 0, 0.0, 0.043, 0.097, 0.192, 0.066)),
        ("ping-iputils-ipv6-loopback.txt", PingStats(3, 3, 0, 0, 0.0, 0.024, 0.049, 0.074, 0.020)),
        ("ping-iputils-duplicates.txt", PingStats(3, 3, 2, 0, 0.0, 0.063, 0.124, 0.242, 0.061)),
        ("ping-iputils-loss-fractional.txt", PingStats(3, 2, 0, 0, 33.3333, 0.069, 0.069, 0.069, 0.0)),
        ("ping-iputils-loss-total.txt", PingStats(3, 0, 0, 0, 100.0, None, None, None, None)),
        ("ping-iputils-errors.txt", PingStats(3, 0, 0, 3, 100.0, None, None, None, None)),
        ("ping-iputils-errors-neigh.txt", PingStats(6, 0, 0, 6, 100.0, None, None, None, None)),
    ],
)
def test_parse_ping_fixtures(name: str, expected: PingStats) -> None:
    assert parse_ping(fixture(name)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # busybox at 100% loss: no round-trip line at all
        (
            "--- 10.1.10.22 ping statistics ---\n3 packets transmitted, 0 packets received, 100% packet loss\n",
            PingStats(3, 0, 0, 0, 100.0, None, None, None, None),
        ),
        # busybox prints duplicates without '+'
        (
            "3 packets transmitted, 3 packets received, 2 duplicates, 0% packet loss\n"
            "round-trip min/avg/max = 0.155/0.377/0.818 ms\n",
            PingStats(3, 3, 2, 0, 0.0, 0.155, 0.377, 0.818, None),
        ),
        # iputils with every optional counter
        (
            "10 packets transmitted, 8 received, +1 duplicates, +1 corrupted, +2 errors, 20% packet loss, time 9012ms\n"
            "rtt min/avg/max/mdev = 0.050/0.100/0.150/0.025 ms, pipe 2\n",
            PingStats(10, 8, 1, 2, 20.0, 0.050, 0.100, 0.150, 0.025),
        ),
    ],
)
def test_parse_ping_inline_variants(text: str, expected: PingStats) -> None:
    assert parse_ping(text) == expected


def test_parse_ping_reads_terminal_line_ends() -> None:
    # `kubectl exec -ti`, as the seed ran it, returns CRLF line ends.
    crlf = fixture("ping-busybox-seed-ipv4.txt").replace("\n", "\r\n")
    assert parse_ping(crlf) == PingStats(3, 3, 0, 0, 0.0, 0.184, 0.377, 0.753, None)


def test_parse_ping_takes_last_summary_and_its_rtt() -> None:
    interim = (
        "2 packets transmitted, 2 received, 0% packet loss, time 1001ms\n"
        "rtt min/avg/max/mdev = 1.0/1.0/1.0/0.0 ms\n"
    )
    final = "3 packets transmitted, 2 received, 33.3333% packet loss, time 2002ms\n"
    assert parse_ping(interim + final) == PingStats(3, 2, 0, 0, 33.3333, None, None, None, None)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (fixture("ping-iputils-unreachable.txt"), r"no ping summary line .*'ping: connect: Network is unreachable'"),
        ("", r"no ping summary line .* in ''"),
        ("ping: unknown host nowhere\n", r"'ping: unknown host nowhere'"),
        (
            "3 packets transmitted, 3 received\n",
            r"ping summary has no 'loss_percent': '3 packets transmitted, 3 received'",
        ),
        ("3 packets transmitted, 0% packet loss\n", r"ping summary has no 'received'"),
    ],
)
def test_parse_ping_rejects(text: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_ping(text)


@given(
    transmitted=st.integers(min_value=1, max_value=10_000),
    data=st.data(),
    busybox=st.booleans(),
)
def test_parse_ping_reads_back_what_ping_would_print(transmitted: int, data: st.DataObject, busybox: bool) -> None:
    received = data.draw(st.integers(min_value=0, max_value=transmitted))
    duplicates = data.draw(st.integers(min_value=0, max_value=50))
    errors = 0 if busybox else data.draw(st.integers(min_value=0, max_value=50))
    loss = round((transmitted - received) * 100 / transmitted, 4)
    if busybox:
        line = f"{transmitted} packets transmitted, {received} packets received, "
        line += f"{duplicates} duplicates, " if duplicates else ""
        line += f"{loss:g}% packet loss"
    else:
        line = f"{transmitted} packets transmitted, {received} received"
        line += f", +{duplicates} duplicates" if duplicates else ""
        line += f", +{errors} errors" if errors else ""
        line += f", {loss:g}% packet loss, time 1000ms"
    stats = parse_ping(f"--- x ping statistics ---\n{line}\n")
    assert stats == PingStats(transmitted, received, duplicates, errors, float(f"{loss:g}"), None, None, None, None)


# --- iperf3 -J --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "iperf3-tcp-ipv6.json",
            IperfResult(
                "TCP", 14381333629.314095, 14375842414.440744, 1797783552, 1797783552, 1, 1.0, retransmits=3534
            ),
        ),
        (
            "iperf3-tcp-ipv4-p2.json",
            IperfResult("TCP", 19214548633.040737, 19206964604.68807, 2402680832, 2402680832, 2, 1.0, retransmits=8448),
        ),
        (
            "iperf3-tcp-loopback.json",
            IperfResult("TCP", 19971777879.9816, 19963694038.98719, 2496921600, 2496921600, 1, 1.0, retransmits=19),
        ),
        (
            "iperf3-udp.json",
            IperfResult(
                "UDP", 99914391.8759474, 99901006.3725598, 12490448, 12490448, 1, 1.0,
                jitter_ms=0.00247555772243661, lost_packets=0, packets=8626, lost_percent=0.0,
            ),
        ),
        (
            "iperf3-udp-loss.json",
            IperfResult(
                "UDP", 99919087.64105615, 89912565.6397602, 12490448, 11240824, 1, 1.0,
                jitter_ms=0.002958975802574986, lost_packets=863, packets=8626, lost_percent=10.004637143519592,
            ),
        ),
    ],
)
def test_parse_iperf3_fixtures(name: str, expected: IperfResult) -> None:
    assert parse_iperf3(fixture(name)) == expected


def test_parse_iperf3_tolerates_kubectl_noise_before_the_json() -> None:
    text = 'Defaulted container "alpine" out of: alpine, wingman\n' + fixture("iperf3-tcp-ipv6.json")
    assert parse_iperf3(text).sent_bytes == 1797783552


def test_parse_iperf3_udp_before_3_12_has_only_end_sum() -> None:
    document = json.loads(fixture("iperf3-udp-loss.json"))
    del document["end"]["sum_sent"], document["end"]["sum_received"]
    result = parse_iperf3(json.dumps(document))
    assert (result.sent_bps, result.received_bps) == (99919087.64105615, 99919087.64105615)
    assert (result.sent_bytes, result.received_bytes) == (12490448, 12490448)
    assert result.lost_packets == 863


def test_parse_iperf3_error_refused() -> None:
    refused = r"iperf3 failed: 'unable to connect to server: Connection refused'"
    with pytest.raises(Iperf3Error, match=refused) as caught:
        parse_iperf3(fixture("iperf3-error-refused.json"))
    assert caught.value.error == "unable to connect to server: Connection refused"
    assert caught.value.partial is None
    assert isinstance(caught.value, ParseError)
    assert isinstance(caught.value, ValueError)


def test_parse_iperf3_error_keeps_partial_results() -> None:
    with pytest.raises(Iperf3Error, match=r"'the server has terminated'") as caught:
        parse_iperf3(fixture("iperf3-error-server-killed.json"))
    assert caught.value.error == "the server has terminated"
    assert caught.value.partial == IperfResult("TCP", 22305978631.37624, 0.0, 2788687872, 0, 1, 4.0, retransmits=4451)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            fixture("iperf3-text-seed-ipv6.txt"),
            r"no JSON \(a line starting '\{'\) in iperf3 output: 'Defaulted container",
        ),
        ("", r"no JSON .* in iperf3 output: ''"),
        ('{"start": {"test_start": ', r"invalid JSON in iperf3 output \(Expecting value at 25\): '\{\"start\""),
        ('{"end": {}}\niperf3: interrupt', r"text after the JSON in iperf3 output: 'iperf3: interrupt'"),
        ('{"end": {}}', r"iperf3 JSON has no 'start.test_start.protocol'"),
        ('{"start": {"test_start": {"protocol": "TCP"}}, "end": {}}', r"iperf3 JSON has no 'sum_sent'"),
        ('{"start": {"test_start": {"protocol": "UDP"}}, "end": {"sum_sent": {}}}', r"iperf3 JSON has no 'sum'"),
        (
            fixture("iperf3-tcp-ipv6.json").replace('"retransmits":\t3534', '"retransmits":\tnull'),
            r"unexpected value in iperf3 output \(int\(\) argument must be .*NoneType'\): '\{",
        ),
    ],
)
def test_parse_iperf3_rejects(text: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_iperf3(text)


def test_iperf_result_is_json_able() -> None:
    result = parse_iperf3(fixture("iperf3-udp.json"))
    assert json.loads(json.dumps(dataclasses.asdict(result)))["lost_packets"] == 0


# --- ip -j addr -------------------------------------------------------------

NET1 = InterfaceAddrs("net1", "ae:2d:2f:05:84:eb", 1500, "UP", ("10.1.10.14",), ("fd10::12",))


@pytest.mark.parametrize(
    ("name", "ifname", "expected"),
    [
        ("ip-addr-net1.json", "net1", NET1),
        ("ip-addr-all.json", "net1", NET1),
        ("ip-addr-all.json", "lo", InterfaceAddrs("lo", "00:00:00:00:00:00", 65536, "UNKNOWN", ("127.0.0.1",), ())),
        (
            "ip-addr-net1-tentative.json",
            "net1",
            InterfaceAddrs("net1", "ae:2d:2f:05:84:eb", 1500, "UP", ("10.1.10.14",), (), ipv6_tentative=("fd10::12",)),
        ),
        (
            "ip-addr-net1-dadfailed.json",
            "net1",
            InterfaceAddrs("net1", "e2:8b:11:56:91:3f", 1500, "UP", ("10.1.10.23",), (), ipv6_dadfailed=("fd10::22",)),
        ),
        ("ip-addr-veth-ens16f0.json", "ens16f0", InterfaceAddrs("ens16f0", "7e:ff:de:43:09:4f", 1500, "UP", (), ())),
    ],
)
def test_parse_ip_addr_json_fixtures(name: str, ifname: str, expected: InterfaceAddrs) -> None:
    assert parse_ip_addr_json(fixture(name), ifname) == expected


@pytest.mark.parametrize(
    ("text", "ifname", "match"),
    [
        (
            fixture("ip-addr-missing-device.txt"),
            "net1",
            r"interface 'net1' not in ip -j addr output \(interfaces: \[\]\): 'Device \"net1\" does not exist.'",
        ),
        (
            fixture("ip-addr-all.json"),
            "eth0",
            r"interface 'eth0' not in ip -j addr output \(interfaces: \['lo', 'net1'\]\)",
        ),
        ("", "net1", r"interface 'net1' not in ip -j addr output \(interfaces: \[\]\): ''"),
        ('[{"ifname": "net1", "mtu": 1500', "net1", r"invalid JSON in ip -j addr output"),
        ('[{"ifname": "net1", "mtu": 1500}]', "net1", r"ip -j addr JSON has no 'operstate'"),
        (
            '[{"ifname": "net1", "mtu": "jumbo", "operstate": "UP"}]',
            "net1",
            r"unexpected value in ip -j addr output \(invalid literal for int\(\) .*'jumbo'\)",
        ),
    ],
)
def test_parse_ip_addr_json_rejects(text: str, ifname: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_ip_addr_json(text, ifname)


# --- counters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ip-stats-net1-before.json", LinkStats("net1", rx_bytes=86, tx_bytes=752, rx_packets=1, tx_packets=8)),
        (
            "ip-stats-net1-after.json",
            LinkStats("net1", rx_bytes=1290267, tx_bytes=1806082603, rx_packets=14910, tx_packets=37813),
        ),
    ],
)
def test_parse_ip_stats_json_fixtures(name: str, expected: LinkStats) -> None:
    assert parse_ip_stats_json(fixture(name), "net1") == expected


def test_ip_stats_and_sysfs_agree_on_tx_bytes() -> None:
    # Captured back to back after the iperf3 run: two views of one counter.
    for when in ("before", "after"):
        stats = parse_ip_stats_json(fixture(f"ip-stats-net1-{when}.json"), "net1")
        assert stats.tx_bytes == parse_tx_bytes(fixture(f"sysfs-tx-bytes-net1-{when}.txt"))


def test_parse_ip_stats_json_falls_back_to_32_bit_stats() -> None:
    text = '[{"ifname": "net1", "stats": {"rx": {"bytes": 1, "packets": 2}, "tx": {"bytes": 3, "packets": 4}}}]'
    assert parse_ip_stats_json(text, "net1") == LinkStats("net1", rx_bytes=1, tx_bytes=3, rx_packets=2, tx_packets=4)


@pytest.mark.parametrize(
    ("text", "ifname", "match"),
    [
        (fixture("ip-addr-net1.json"), "net1", r"no counters for 'net1' in ip -j -s link output \(was -s given\?\)"),
        (
            fixture("ip-stats-net1-after.json"),
            "eth0",
            r"interface 'eth0' not in ip -j -s link output \(interfaces: \['net1'\]\)",
        ),
        ("", "net1", r"interface 'net1' not in ip -j -s link output \(interfaces: \[\]\): ''"),
        (
            '[{"ifname": "net1", "stats64": {"rx": {"bytes": 1, "packets": 2}, "tx": {}}}]',
            "net1",
            r"ip -j -s link JSON has no 'tx.bytes'",
        ),
    ],
)
def test_parse_ip_stats_json_rejects(text: str, ifname: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_ip_stats_json(text, ifname)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (fixture("sysfs-tx-bytes-net1-before.txt"), 752),
        (fixture("sysfs-tx-bytes-net1-after.txt"), 1806082603),
        (fixture("sysfs-tx-bytes-lo.txt"), 2501996253),
        ("  23126289711 \r\n", 23126289711),
    ],
)
def test_parse_tx_bytes(text: str, expected: int) -> None:
    assert parse_tx_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            fixture("sysfs-tx-bytes-missing.txt"),
            r"not a byte counter: 'cat: /sys/class/net/net1/statistics/tx_bytes: No such file or directory'",
        ),
        ("", r"not a byte counter: ''"),
        ("-5\n", r"not a byte counter: '-5'"),
        ("12 34\n", r"not a byte counter: '12 34'"),
        ("\u00b2\n", r"not a byte counter: '\u00b2'"),
    ],
)
def test_parse_tx_bytes_rejects(text: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_tx_bytes(text)


# --- busybox ifconfig (the seed) --------------------------------------------


@pytest.mark.parametrize(
    ("name", "ifname", "expected"),
    [
        (
            "ifconfig-busybox-seed-alpine2-net1.txt",
            "net1",
            IfconfigInterface(
                InterfaceAddrs("net1", "ae:72:93:85:d4:4d", 1500, "UP", ("10.1.10.22",), ("fd10::22",)),
                LinkStats("net1", rx_bytes=0, tx_bytes=1324, rx_packets=0, tx_packets=16),
            ),
        ),
        (
            "ifconfig-busybox-seed-alpine1-all.txt",
            "net1",
            IfconfigInterface(
                InterfaceAddrs("net1", "ea:fd:cb:c2:35:40", 1500, "UP", ("10.1.10.14",), ("fd10::12",)),
                LinkStats("net1", rx_bytes=14959692, tx_bytes=23126289711, rx_packets=173938, tx_packets=369492),
            ),
        ),
        (
            "ifconfig-busybox-seed-alpine1-all.txt",
            "eth0",
            IfconfigInterface(
                InterfaceAddrs("eth0", "72:1c:fa:d7:e5:f0", 1436, "UP", ("10.1.0.46",), ()),
                LinkStats("eth0", rx_bytes=2528168, tx_bytes=259299, rx_packets=2137, tx_packets=964),
            ),
        ),
        (
            "ifconfig-busybox-seed-alpine1-all.txt",
            "lo",
            IfconfigInterface(
                InterfaceAddrs("lo", None, 65536, "UP", ("127.0.0.1",), ()),
                LinkStats("lo", rx_bytes=0, tx_bytes=0, rx_packets=0, tx_packets=0),
            ),
        ),
    ],
)
def test_parse_busybox_ifconfig_seed(name: str, ifname: str, expected: IfconfigInterface) -> None:
    assert parse_busybox_ifconfig(fixture(name), ifname) == expected


def test_parse_busybox_ifconfig_reads_terminal_line_ends() -> None:
    crlf = fixture("ifconfig-busybox-seed-alpine1-all.txt").replace("\n", "\r\n")
    assert parse_busybox_ifconfig(crlf).stats.tx_bytes == 23126289711
    assert parse_busybox_ifconfig(crlf).addrs.ipv6_global == ("fd10::12",)


def test_parse_busybox_ifconfig_defaults_to_net1_and_sees_down() -> None:
    seed = fixture("ifconfig-busybox-seed-alpine2-net1.txt")
    down = seed.replace("UP BROADCAST RUNNING MULTICAST", "BROADCAST MULTICAST")
    assert parse_busybox_ifconfig(down).addrs.operstate == "DOWN"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            fixture("ifconfig-busybox-seed-alpine2-net1.txt").replace("net1 ", "eth9 "),
            r"interface 'net1' not in ifconfig output \(interfaces: \['eth9'\]\)",
        ),
        (
            "ifconfig: net1: error fetching interface information: Device not found\n",
            r"interface 'net1' not in ifconfig output \(interfaces: \[\]\): 'ifconfig: net1: error",
        ),
        (
            "net1      Link encap:Ethernet  HWaddr AE:72:93:85:D4:4D\n          inet addr:10.1.10.22\n",
            r"no 'MTU' for 'net1' in ifconfig output: 'net1      Link encap",
        ),
    ],
)
def test_parse_busybox_ifconfig_rejects(text: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_busybox_ifconfig(text)


# --- Multus network-status --------------------------------------------------

SEED_STATUS = [
    NetworkStatus("k8s-pod-network", "eth0", ("10.1.0.46",), "72:1c:fa:d7:e5:f0", default=True),
    NetworkStatus("default/macvlan-w0-ens16f0", "net1", ("10.1.10.14", "fd10::12"), "ea:fd:cb:c2:35:40"),
]


def test_parse_network_status_seed() -> None:
    assert parse_network_status(fixture("network-status-seed-alpine1.json")) == SEED_STATUS


def test_parse_network_status_optional_fields() -> None:
    text = json.dumps(
        [
            {"name": "cbr0", "ips": ["10.244.1.73"], "default": True, "dns": {}},
            {
                "name": "ns1/macvlan",
                "interface": "net1",
                "mtu": 9000,
                "gateway": ["10.1.10.1"],
                "dns": {"nameservers": ["10.1.10.53"], "domain": "lab", "search": ["lab"], "options": ["ndots:2"]},
                "device-info": {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:03:00.1"}},
            },
        ]
    )
    assert parse_network_status(text) == [
        NetworkStatus("cbr0", None, ("10.244.1.73",), None, default=True),
        NetworkStatus(
            "ns1/macvlan", "net1", (), None, mtu=9000, gateway=("10.1.10.1",),
            dns=Dns(nameservers=("10.1.10.53",), domain="lab", search=("lab",), options=("ndots:2",)),
        ),
    ]


def test_find_network_status() -> None:
    assert find_network_status(SEED_STATUS, "net1") == SEED_STATUS[1]
    missing = r"no network-status entry for interface 'net2' \(interfaces: \['eth0', 'net1'\]\)"
    with pytest.raises(ParseError, match=missing):
        find_network_status(SEED_STATUS, "net2")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"no JSON \(a line starting '\['\) in network-status annotation output: ''"),
        ('{"name": "x"}', r"no JSON .* network-status annotation output: '\{\"name\": \"x\"\}'"),
        ('[{"name": "x",', r"invalid JSON in network-status annotation output"),
        ('[{"interface": "net1"}]', r"network-status annotation entry without a name: '\{\"interface\": \"net1\"\}'"),
        (
            '[{"name": "x", "ips": "10.1.10.14"}]',
            r"network-status annotation ips is not a list of strings: '10.1.10.14'",
        ),
        (
            '[{"name": "x", "dns": ["10.1.10.53"]}]',
            r"unexpected value in network-status annotation output \('list' object has no attribute 'get'\)",
        ),
    ],
)
def test_parse_network_status_rejects(text: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_network_status(text)


# --- shared error shape -----------------------------------------------------


def test_long_offending_text_is_cut_in_messages() -> None:
    with pytest.raises(ParseError) as caught:
        parse_ping("x" * 1000)
    assert str(caught.value) == f"no ping summary line ('N packets transmitted, ...') in {'x' * 200 + '...'!r}"
