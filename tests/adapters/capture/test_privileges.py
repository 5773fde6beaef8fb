"""The capture-privilege advice confines the right: never ``setcap`` on the system's python3 (every Python
script of every user would get raw sockets), but sudo, or the capability on a dedicated copy of the
interpreter inside netdiag's own virtual environment that only a capture group may run (as dumpcap).

The last test follows the advice for real: it runs the message's own ``install`` and ``setcap`` commands
on a virtual environment it builds in a temporary folder, then captures with the copy while the plain
interpreter still cannot."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import netdiag_env

from netdiag.adapters.capture.scapy_glue import CAPTURE_GROUP, privilege_message
from netdiag.core.exit_status import ExitStatus

EPERM = PermissionError(1, "Operation not permitted")
NO_CAPS = ["setpriv", "--securebits=+noroot,+noroot_locked", "--inh-caps=-all", "--ambient-caps=-all"]


def setcap_targets(message: str) -> list[str]:
    return re.findall(r"setcap cap_\S+ (\S+?);?(?:\s|$)", message)


@pytest.mark.parametrize("in_venv", [True, False])
def test_the_advice_never_gives_the_system_interpreter_raw_sockets(in_venv: bool) -> None:
    prefix = "/home/st/netdiag/.venv" if in_venv else "/usr"
    message = privilege_message(EPERM, platform="linux", executable=f"{prefix}/bin/python",
                                prefix=prefix, base_prefix="/usr")
    assert "sudo" in message
    assert "readlink" not in " ".join(setcap_targets(message))  # the link's target IS the system python3
    assert all(target.startswith(f"{prefix}/bin/") for target in setcap_targets(message))
    assert "Do not setcap python3 itself" in message and "docs/handshake.md" in message
    if in_venv:
        assert setcap_targets(message) == [f"{prefix}/bin/python-capture"]
        assert f"install -m 0750 -g {CAPTURE_GROUP}" in message  # a copy only the group may run
    else:
        assert setcap_targets(message) == []  # outside a venv nothing is netdiag's own: sudo, or a venv


@pytest.fixture
def own_venv() -> Iterator[Path]:
    """A virtual environment in a 0755 temporary folder sharing this one's packages (its lib/ a link)."""
    root = Path(tempfile.mkdtemp(prefix="netdiag-venv-"))
    os.chmod(root, 0o755)
    shutil.copyfile(Path(sys.prefix) / "pyvenv.cfg", root / "pyvenv.cfg")
    (root / "lib").symlink_to(Path(sys.prefix) / "lib")
    (root / "bin").mkdir(mode=0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or sys.prefix == sys.base_prefix or not sys.platform.startswith("linux")
                    or None in (shutil.which("setcap"), shutil.which("setpriv"), shutil.which("install")),
                    reason="needs root on Linux, a virtual environment, setcap, setpriv and install")
def test_following_the_advice_captures_with_the_copy_only(own_venv: Path) -> None:
    message = privilege_message(EPERM, platform="linux", executable=sys.executable, prefix=str(own_venv),
                                base_prefix=sys.base_prefix)
    steps = [step.strip().removeprefix("sudo ") for step in message.split(";")]
    install = next(s for s in steps if s.startswith("install "))
    setcap = next(s for s in steps if s.startswith("setcap "))
    # the group is created by the person (groupadd); here a numeric group stands for it, /etc/group untouched
    install = install.replace(f"-g {CAPTURE_GROUP}", "-g 4242")
    for step in (install, setcap):
        subprocess.run(["bash", "-c", step], check=True, capture_output=True, text=True, timeout=60)
    dedicated = own_venv / "bin" / "python-capture"
    info = dedicated.stat()
    assert (info.st_mode & 0o7777, info.st_uid, info.st_gid) == (0o750, 0, 4242)
    system_caps = subprocess.run(["getcap", os.path.realpath(sys.executable)], capture_output=True,
                                 text=True, timeout=60).stdout
    assert "cap_net_raw" not in system_caps  # the system's interpreter was left alone

    with socket.create_server(("127.0.0.1", 0)) as server:
        target = f"127.0.0.1:{server.getsockname()[1]}"
        plain = subprocess.run([*NO_CAPS, sys.executable, "-m", "netdiag", "handshake", target],
                               capture_output=True, text=True, timeout=60, env=netdiag_env(),
                               cwd=Path(__file__).resolve().parents[2])
        copy = subprocess.run([*NO_CAPS, str(dedicated), "-m", "netdiag", "handshake", target],
                              capture_output=True, text=True, timeout=60, env=netdiag_env(),
                              cwd=Path(__file__).resolve().parents[2])
    assert plain.returncode == ExitStatus.NO_PRIVILEGES, plain.stderr
    assert copy.returncode == ExitStatus.OK, copy.stderr
    assert "SYN" in copy.stdout and "Traceback" not in copy.stderr
