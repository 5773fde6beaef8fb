"""Read this host's firewall rules for one port, without changing anything (Linux: nft and iptables).

Only read-only listing commands run (``nft list ruleset``, ``iptables -S``, ``ip6tables -S``), each with a
timeout. Reading needs root (CAP_NET_ADMIN): without it the tools fail with "Permission denied" /
"Operation not permitted", and the observation says so instead of guessing. Rules belong to a network
namespace: what is read here is the firewall of the namespace this process runs in.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from netdiag.adapters.platform import firewall_advice, is_linux
from netdiag.core.firewall_rules import managed_by_iptables, parse_iptables, parse_nft
from netdiag.core.observations import FirewallObservation, FirewallRule

COMMAND_TIMEOUT = 3.0
_PRIVILEGE_WORDS = ("permission denied", "operation not permitted", "must be root")


class _Unreadable(Exception):
    """A tool could not list its rules: ``reason`` says why in words; ``missing`` (not installed) and
    ``needs_root`` say it as facts, which the summary reads instead of searching the words."""

    def __init__(self, reason: str, *, missing: bool = False, needs_root: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing
        self.needs_root = needs_root


def read_firewall(port: int, proto: str = "tcp", *, command_prefix: Sequence[str] = (),
                  timeout: float = COMMAND_TIMEOUT) -> FirewallObservation:
    """The rules of every installed tool that concern ``proto``/``port``, and the dropping policies.

    ``command_prefix`` runs the tools elsewhere (tests pass ``ip netns exec NAME``).
    """
    if not is_linux():
        return FirewallObservation(readable=False, note=firewall_advice())
    rules: list[FirewallRule] = []
    policies: list[str] = []
    tools: list[str] = []
    problems: list[tuple[str, _Unreadable]] = []
    for tool in ("iptables", "ip6tables"):
        try:
            text = _run([*command_prefix, tool, "-w", "-S"], timeout)
        except _Unreadable as why:
            problems.append((tool, why))
            continue
        found, dropping = parse_iptables(text, port, proto, tool=tool)
        rules.extend(found)
        policies.extend(dropping)
        tools.append(tool)
    try:
        text = _run([*command_prefix, "nft", "list", "ruleset"], timeout)
    except _Unreadable as why:
        problems.append(("nft", why))
    else:
        skip = managed_by_iptables(text) if tools else set()
        found, dropping = parse_nft(text, port, proto, skip_tables=skip)
        rules.extend(found)
        policies.extend(dropping)
        tools.append("nft")
    if not tools:
        return FirewallObservation(readable=False, note=_summarise(problems))
    return FirewallObservation(readable=True, tools=tuple(tools), rules=tuple(rules),
                               default_policies=tuple(policies))


def _run(argv: list[str], timeout: float) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise _Unreadable("not installed", missing=True) from None
    except subprocess.TimeoutExpired:
        raise _Unreadable(f"no answer within {timeout:g} s") from None
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}")
        if any(word in message.lower() for word in _PRIVILEGE_WORDS):
            raise _Unreadable("reading the rules needs root (run with sudo)", needs_root=True)
        raise _Unreadable(message.splitlines()[0])
    return done.stdout + done.stderr  # nft writes its "managed by iptables-nft" warnings to stderr


def _summarise(problems: list[tuple[str, _Unreadable]]) -> str:
    """Why no tool could list the rules: root first (the fix is sudo), then none installed, else each
    tool's own reason."""
    if any(why.needs_root for _tool, why in problems):
        return "reading it needs root (run netdiag with sudo to include it)"
    if problems and all(why.missing for _tool, why in problems):
        return "neither nft nor iptables is installed"
    return "; ".join(f"{tool}: {why.reason}" for tool, why in problems) or "no firewall tool answered"
