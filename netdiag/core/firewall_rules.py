"""Reading firewall rules that concern one port: ``iptables -S`` and ``nft list ruleset`` text, parsed. Pure.

The adapter (``netdiag.adapters.net.firewall``) runs the tools, read-only; this module only reads their text.
A rule *concerns* a port when it matches that destination port (a single port, a list, a range), or when
it drops/rejects everything of the protocol with no other condition (``-A INPUT -j DROP``). Rules with
other conditions (source address, interface, state) are kept when they name the port: the user can judge
them, netdiag cannot evaluate them. Chain policies are reported when they drop (``-P INPUT DROP``,
``policy drop;``): a DROP policy with no ACCEPT rule for the port silences it.

iptables-nft shows its rules in ``nft list ruleset`` too, in its own tables (``ip filter``, ``ip6 nat``
..., sometimes marked "managed by iptables-nft"); those tables are skipped when iptables itself was read,
so no rule is reported twice.
"""

from __future__ import annotations

import re
import shlex

from netdiag.core.observations import FirewallRule

_ACTIONS = {"DROP": "drop", "REJECT": "reject", "ACCEPT": "accept"}
_POLICY_CHAINS = ("INPUT", "OUTPUT")
_DIRECTIONS = {"input": "in", "output": "out"}  # iptables chain names and nft hooks alike


def port_in_spec(port: int, spec: str, *, range_sep: str) -> bool:
    """Whether ``port`` is in ``80,443,7000:9000`` (iptables, sep ``:``) or ``80, 7000-9000`` (nft, ``-``)."""
    for part in re.split(r"[,\s{}]+", spec):
        if not part:
            continue
        low, sep, high = part.partition(range_sep)
        if not low.isdigit() or (sep and not high.isdigit()):
            continue
        if int(low) <= port <= (int(high) if sep else int(low)):
            return True
    return False


def parse_iptables(text: str, port: int, proto: str, *, tool: str = "iptables",
                   ) -> tuple[tuple[FirewallRule, ...], tuple[str, ...]]:
    """Rules of ``iptables -S`` output that concern ``proto`` port ``port``, and the dropping policies."""
    rules: list[FirewallRule] = []
    policies: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if len(words) == 3 and words[0] == "-P" and words[1] in _POLICY_CHAINS and words[2] == "DROP":
            policies.append(f"{tool} {words[1]} policy DROP")
            continue
        if len(words) < 2 or words[0] != "-A":
            continue
        rule = _iptables_rule(words, port, proto)
        if rule is not None:
            rules.append(FirewallRule(line, rule, tool, _DIRECTIONS.get(words[1].lower(), "")))
    return tuple(rules), tuple(policies)


def _iptables_rule(words: list[str], port: int, proto: str) -> str | None:
    options = _options(words[2:])
    action = _ACTIONS.get(options.get("-j", ""))
    if action is None or "!" in words:
        return None
    rule_proto = options.get("-p")
    if rule_proto not in (None, "all", proto):
        return None
    spec = options.get("--dport") or options.get("--dports")
    if spec is not None:
        return action if port_in_spec(port, spec, range_sep=":") else None
    conditions = set(options) - {"-p", "-m", "-j", "--reject-with"}
    return action if not conditions and action != "accept" else None


def _options(words: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for index, word in enumerate(words):
        if word.startswith("-") and index + 1 < len(words) and not words[index + 1].startswith("-"):
            options.setdefault(word, words[index + 1])
        elif word.startswith("-"):
            options.setdefault(word, "")
    return options


_TABLE = re.compile(r"^table\s+(\S+)\s+(\S+)\s*\{")
_CHAIN = re.compile(r"^chain\s+(\S+)\s*\{")
_HOOK_POLICY = re.compile(r"hook\s+(\w+)\b.*\bpolicy\s+(\w+)")
_HOOK = re.compile(r"\bhook\s+(\w+)\b")
_MANAGED = re.compile(r"table\s+(\S+\s+\S+)\s+is managed by iptables-nft")
_DPORT = re.compile(r"\b(tcp|udp|th)\s+dport\s+(!=\s*)?(\{[^}]*\}|\S+)")
_COUNTER = re.compile(r"\s*counter packets \d+ bytes \d+")
_NFT_ACTION = re.compile(r"\b(drop|reject|accept)\b")


# The tables iptables-nft creates; nft marks them "managed by iptables-nft" only in some versions.
IPTABLES_TABLES = frozenset(f"{family} {name}" for family in ("ip", "ip6")
                            for name in ("filter", "nat", "mangle", "raw", "security"))


def managed_by_iptables(text: str) -> set[str]:
    """Tables ("ip filter") that iptables-nft manages: their rules are read via iptables instead."""
    return set(IPTABLES_TABLES) | {match.group(1) for match in _MANAGED.finditer(text)}


def parse_nft(text: str, port: int, proto: str, *, skip_tables: set[str] | frozenset[str] = frozenset(),
              ) -> tuple[tuple[FirewallRule, ...], tuple[str, ...]]:
    """Rules of ``nft list ruleset`` that concern ``proto`` port ``port``, and the dropping hook policies."""
    rules: list[FirewallRule] = []
    policies: list[str] = []
    table = chain = hook = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if match := _TABLE.match(line):
            table, chain = f"{match.group(1)} {match.group(2)}", ""
            continue
        if match := _CHAIN.match(line):
            chain, hook = match.group(1), ""
            continue
        if not table or table in skip_tables or not chain:
            continue
        if found_hook := _HOOK.search(line):
            hook = found_hook.group(1)
        if policy := _HOOK_POLICY.search(line):
            if policy.group(1) in ("input", "output") and policy.group(2) == "drop":
                outgoing = " (output hook)" if policy.group(1) == "output" else ""
                policies.append(f"nft table {table} chain {chain}: policy drop{outgoing}")
            continue
        action = _nft_rule(line, port, proto)
        if action is not None:
            text = f"table {table} chain {chain}: {_COUNTER.sub('', line)}"
            rules.append(FirewallRule(text, action, "nft", _DIRECTIONS.get(hook, "")))
    return tuple(rules), tuple(policies)


def _nft_rule(line: str, port: int, proto: str) -> str | None:
    actions = _NFT_ACTION.findall(line)
    if not actions:
        return None
    action = actions[-1]
    match = _DPORT.search(line)
    if match is None:
        bare = re.sub(r"\b(meta l4proto|ip protocol|ip6 nexthdr)\s+\w+\b", "", _COUNTER.sub("", line))
        other_proto = re.search(r"l4proto|protocol", line) and proto not in line
        catch_all = bare.split() in (["drop"], ["reject"]) or bare.strip().startswith("reject with")
        return action if catch_all and not other_proto and action != "accept" else None
    rule_proto, negated, spec = match.groups()
    if rule_proto not in ("th", proto) or negated:
        return None
    return action if port_in_spec(port, spec, range_sep="-") else None
