"""Real iptables / nft rules, added by the test inside its own namespace, read back by the adapter."""

from __future__ import annotations

import pytest
from helpers.netns import Namespace

from netdiag.adapters.net.firewall import read_firewall
from netdiag.core.firewall_rules import managed_by_iptables, parse_iptables, parse_nft, port_in_spec

pytestmark = pytest.mark.root


def _read(ns: Namespace, port: int, proto: str = "tcp"):  # type: ignore[no-untyped-def]
    return read_firewall(port, proto, command_prefix=ns.argv([]))


def test_an_empty_firewall_reads_as_nothing_blocking(private_loopback: Namespace) -> None:
    fw = _read(private_loopback, 8000)
    assert fw.readable and "iptables" in fw.tools
    assert fw.rules == () and fw.default_policies == ()


def test_iptables_rules_for_the_port_are_found_and_others_ignored(private_loopback: Namespace) -> None:
    ns = private_loopback
    ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", "8000", "-j", "DROP")
    ns.iptables("-A", "INPUT", "-p", "tcp", "-m", "multiport", "--dports", "80,7000:7100", "-j", "REJECT",
                "--reject-with", "tcp-reset")
    ns.iptables("-A", "INPUT", "-p", "udp", "--dport", "8000", "-j", "DROP")
    ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9000", "-j", "ACCEPT")
    ns.iptables("-P", "INPUT", "DROP")

    on_8000 = _read(ns, 8000)
    assert [(r.tool, r.action) for r in on_8000.rules] == [("iptables", "drop")]
    assert "--dport 8000" in on_8000.rules[0].text
    assert on_8000.default_policies == ("iptables INPUT policy DROP",)

    in_range = _read(ns, 7050)
    assert [(r.action, "--reject-with tcp-reset" in r.text) for r in in_range.rules] == [("reject", True)]
    assert [r.action for r in _read(ns, 8000, "udp").rules] == ["drop"]
    assert [r.action for r in _read(ns, 9000).rules] == ["accept"]
    assert _read(ns, 8001).rules == ()


def test_native_nft_rules_are_found_once(private_loopback: Namespace) -> None:
    ns = private_loopback
    ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", "8000", "-j", "DROP")  # also visible through nft
    ns.run("nft", "add", "table", "inet", "lab")
    ns.run("nft", "add", "chain", "inet", "lab", "input",
           "{ type filter hook input priority 0; policy drop; }")
    ns.run("nft", "add", "rule", "inet", "lab", "input", "tcp", "dport", "{ 22, 7990-8010 }", "reject",
           "with", "tcp", "reset")
    fw = _read(ns, 8000)
    assert sorted((r.tool, r.action) for r in fw.rules) == [("iptables", "drop"), ("nft", "reject")]
    assert any("table inet lab chain input: policy drop" in p for p in fw.default_policies)


def test_without_privileges_it_says_so(private_loopback: Namespace) -> None:
    prefix = [*private_loopback.argv([]), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
              "--inh-caps=-all", "--bounding-set=-all"]
    fw = read_firewall(8000, "tcp", command_prefix=prefix)
    assert not fw.readable
    assert fw.note is not None and "root" in fw.note


@pytest.mark.parametrize(("port", "spec", "sep", "inside"), [
    (8000, "8000", ":", True), (8000, "80,443,7000:9000", ":", True), (8000, "80,443", ":", False),
    (8000, "{ 22, 7990-8010 }", "-", True), (8000, "{ 22, 8001-8010 }", "-", False),
])
def test_port_specs(port: int, spec: str, sep: str, inside: bool) -> None:
    assert port_in_spec(port, spec, range_sep=sep) is inside


def test_catch_all_rules_count_but_conditional_ones_without_the_port_do_not() -> None:
    text = "\n".join([
        "-P INPUT ACCEPT",
        "-A INPUT -m state --state INVALID -j DROP",
        "-A INPUT -s 192.0.2.0/24 -j DROP",
        "-A INPUT -p tcp -j REJECT --reject-with icmp-port-unreachable",
        "-A INPUT -p tcp ! --dport 8000 -j DROP",
    ])
    rules, policies = parse_iptables(text, 8000, "tcp")
    assert [r.text for r in rules] == ["-A INPUT -p tcp -j REJECT --reject-with icmp-port-unreachable"]
    assert policies == ()


def test_nft_tables_managed_by_iptables_are_skipped() -> None:
    text = ("table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority filter; policy drop;\n"
            "\t\ttcp dport 8000 counter packets 0 bytes 0 drop\n\t}\n}\n"
            "# Warning: table ip filter is managed by iptables-nft, do not touch!\n")
    skip = managed_by_iptables(text)
    assert {"ip filter", "ip6 filter"} <= skip and "inet lab" not in skip
    assert parse_nft(text, 8000, "tcp", skip_tables=skip) == ((), ())
    rules, policies = parse_nft(text, 8000, "tcp")
    assert [r.text for r in rules] == ["table ip filter chain INPUT: tcp dport 8000 drop"]
    assert policies == ("nft table ip filter chain INPUT: policy drop",)


def test_each_rule_knows_its_direction_iptables_chain_or_nft_hook() -> None:
    """OUTPUT stops this host's own packets, INPUT the ones arriving: explain weighs them differently."""
    rules, policies = parse_iptables("\n".join([
        "-P OUTPUT DROP",
        "-A INPUT -p tcp -m tcp --dport 8000 -j DROP",
        "-A OUTPUT -p tcp -m tcp --dport 8000 -j REJECT",
        "-A lab -p tcp -m tcp --dport 8000 -j DROP",
    ]), 8000, "tcp")
    assert [r.direction for r in rules] == ["in", "out", ""]
    assert policies == ("iptables OUTPUT policy DROP",)
    text = ("table inet lab {\n chain out {\n  type filter hook output priority 0; policy drop;\n"
            "  tcp dport 8000 drop\n }\n chain in {\n  type filter hook input priority 0; policy accept;\n"
            "  tcp dport 8000 reject\n }\n}\n")
    rules, policies = parse_nft(text, 8000, "tcp")
    assert [(r.direction, r.action) for r in rules] == [("out", "drop"), ("in", "reject")]
    assert policies == ("nft table inet lab chain out: policy drop (output hook)",)
