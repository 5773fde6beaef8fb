"""Rule 7 checked: Linux-only names appear only in adapters/platform.py, and in the few adapters that are
Linux-only by nature, where they are used inside functions reached only after asking platform.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.portable


PACKAGE = Path(__file__).resolve().parent.parent / "netdiag"
PLATFORM = PACKAGE / "adapters" / "platform.py"

LINUX_ONLY_ATTRIBUTES = frozenset({
    "SOCK_NONBLOCK", "SOCK_CLOEXEC", "AF_NETLINK", "AF_PACKET", "PACKET_OUTGOING", "SO_RCVBUFFORCE",
    "SO_BINDTODEVICE", "MSG_DONTWAIT", "epoll", "EPOLLIN", "EPOLLOUT", "EPOLLERR", "fork", "geteuid",
    "getuid", "sched_getaffinity", "O_DIRECTORY", "F_SETPIPE_SZ", "F_GETPIPE_SZ", "PR_SET_PDEATHSIG",
    "add_signal_handler", "remove_signal_handler", "add_reader", "remove_reader", "if_nameindex",
})
"""Attributes (socket, select, os, fcntl, asyncio loops) that Linux has and macOS or Windows lack."""
LINUX_ONLY_MODULES = frozenset({"resource", "fcntl", "termios", "pwd", "grp", "uvloop"})
"""Modules that Windows' Python lacks (uvloop: no Windows build)."""

ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "adapters/listing/netlink.py": (frozenset({"O_DIRECTORY"}),
                                    "the netlink sock_diag reader (its channel comes from "
                                    "platform.sock_diag_channel()): listing imports it only after "
                                    "platform.has_netlink()"),
    "adapters/capture/scapy_private.py": (frozenset({"PACKET_OUTGOING"}),
                                          "the Linux loopback capture class, built only when "
                                          "platform.has_packet_socket()"),
    "adapters/servers/accepting.py": (frozenset({"add_reader", "remove_reader"}),
                                      "asks platform.loop_watches_descriptors() first, and falls back to "
                                      "loop.sock_accept on NotImplementedError"),
    "adapters/servers/__init__.py": (frozenset({"uvloop"}), "imported only when platform.has_uvloop()"),
}


def _uses(tree: ast.AST) -> list[tuple[str, int, bool]]:
    """(name, line, at module level) of every Linux-only attribute, getattr string, import, sys.platform."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(node, ast.Attribute):
            if node.attr in LINUX_ONLY_ATTRIBUTES:
                found.append((node.attr, node.lineno, not in_function))
            if node.attr == "platform" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                found.append(("sys.platform", node.lineno, not in_function))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in LINUX_ONLY_ATTRIBUTES):
            found.append((str(node.args[1].value), node.lineno, not in_function))
        elif isinstance(node, ast.Import):
            found.extend((a.name, node.lineno, not in_function) for a in node.names
                         if a.name.split(".")[0] in LINUX_ONLY_MODULES)
        elif (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
              and node.module.split(".")[0] in LINUX_ONLY_MODULES):
            found.append((node.module, node.lineno, not in_function))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PLATFORM)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_linux_only_names_only_where_platform_py_decides(path: Path) -> None:
    relative = str(path.relative_to(PACKAGE))
    allowed, _reason = ALLOWED.get(relative, (frozenset(), ""))
    uses = _uses(ast.parse(path.read_text()))
    outside = [(name, line) for name, line, _ in uses if name not in allowed]
    assert not outside, f"{relative}: Linux-only names outside platform.py: {outside} (ask platform.py)"
    at_import = [(name, line) for name, line, module_level in uses if module_level]
    assert not at_import, f"{relative}: Linux-only names used at import time: {at_import}"


def test_the_allowed_list_is_still_needed() -> None:
    """An entry whose file no longer uses its names is removed, so the list stays the truth."""
    for relative, (names, reason) in ALLOWED.items():
        used = {name for name, _, _ in _uses(ast.parse((PACKAGE / relative).read_text()))}
        assert used & names, f"{relative} no longer needs its exception ({reason})"


def test_the_scan_finds_what_it_looks_for() -> None:
    sample = ("import socket, sys, resource\nFLAG = socket.SOCK_NONBLOCK\n"
              "def f(loop):\n    loop.add_signal_handler(2, print)\n    return sys.platform, "
              "getattr(socket, 'MSG_DONTWAIT', 0)\n")
    assert _uses(ast.parse(sample)) == [("resource", 1, True), ("SOCK_NONBLOCK", 2, True),
                                        ("add_signal_handler", 4, False), ("sys.platform", 5, False),
                                        ("MSG_DONTWAIT", 5, False)]
