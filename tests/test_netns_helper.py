"""The namespace test bed itself: two hosts reach each other, and nothing else is reachable."""

from __future__ import annotations

import pytest
from helpers.netns import SERVER_ADDR, TwoHosts

pytestmark = pytest.mark.root

ECHO_ONCE = (
    "import socket,sys; s=socket.create_server(('{addr}', 7007)); print('ready', flush=True); "
    "c,_=s.accept(); c.sendall(c.recv(100)); c.close()"
)
CONNECT = (
    "import socket; c=socket.create_connection(('{addr}', 7007), timeout=5); c.sendall(b'ping'); "
    "print(c.recv(100).decode())"
)


def test_client_reaches_server_over_veth(net: TwoHosts) -> None:
    server = net.server.popen("python3", "-c", ECHO_ONCE.format(addr=SERVER_ADDR))
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        result = net.client.run("python3", "-c", CONNECT.format(addr=SERVER_ADDR))
        assert result.stdout.strip() == "ping"
    finally:
        server.kill()
        server.wait(timeout=10)


def test_no_default_route(net: TwoHosts) -> None:
    routes = net.client.run("ip", "route").stdout
    assert "default" not in routes
    assert "198.18.0.0/24" in routes
