"""The services database lookups of netdiag.adapters.net.resolve (the system's /etc/services)."""

from __future__ import annotations


def test_service_names_agree_whether_asked_one_by_one_or_read_from_the_file() -> None:
    """A few ports go through getservbyport; a big scan reads the services file once: same names."""
    from netdiag.adapters.net.resolve import service_names

    few = service_names([22, 80, 443, 7, 8000], "tcp")
    assert few == {22: "ssh", 80: "http", 443: "https", 7: "echo"}
    many = service_names(range(1, 1025), "tcp")
    assert len(many) > 50 and all(many[port] == name for port, name in few.items())
    assert service_names(range(1, 1025), "udp")[53] == "domain"
