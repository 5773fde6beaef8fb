"""netdiag.adapters.net.resolve: the one getaddrinfo and its failures, and the services database lookups
(the system's /etc/services)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import NoReturn

import pytest

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import ResolveFailure


def test_service_names_agree_whether_asked_one_by_one_or_read_from_the_file() -> None:
    """A few ports go through getservbyport; a big scan reads the services file once: same names."""
    from netdiag.adapters.net.resolve import service_names

    few = service_names([22, 80, 443, 7, 8000], "tcp")
    assert few == {22: "ssh", 80: "http", 443: "https", 7: "echo"}
    many = service_names(range(1, 1025), "tcp")
    assert len(many) > 50 and all(many[port] == name for port, name in few.items())
    assert service_names(range(1, 1025), "udp")[53] == "domain"


# ``lookup``: the one place a failed getaddrinfo becomes a netdiag failure. The resolver is replaced by a
# stand-in that raises (no DNS query), or the idna codec refuses the name before any query is made.

LONG_LABEL = "a" * 64 + ".example"  # DNS labels have at most 63 characters: the idna codec says no


def _failing_resolver(error: BaseException) -> Callable[..., NoReturn]:
    def getaddrinfo(*_args: object, **_kwargs: object) -> NoReturn:
        raise error

    return getaddrinfo


def test_a_resolver_error_keeps_its_words_and_number_as_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    from netdiag.adapters.net import resolve

    monkeypatch.setattr(resolve.socket, "getaddrinfo",
                        _failing_resolver(socket.gaierror(socket.EAI_NONAME, "Name or service not known")))
    with pytest.raises(ResolveFailure) as caught:
        resolve.lookup("nothing.invalid", 7)
    failure = caught.value
    assert failure.message == "Cannot resolve 'nothing.invalid': Name or service not known."
    assert (failure.reason, failure.errno, failure.host, failure.port, failure.cause) == (
        "Name or service not known", socket.EAI_NONAME, "nothing.invalid", 7, Cause.DNS_FAILURE)
    assert failure.explanation is explanation_for(Cause.DNS_FAILURE)  # placeholders left to the caller
    assert isinstance(failure.__cause__, socket.gaierror)


def test_an_over_long_label_is_a_dns_failure_not_a_unicode_error() -> None:
    from netdiag.adapters.net.resolve import lookup, resolve_host

    for call in (lambda: lookup(LONG_LABEL, 80), lambda: resolve_host(LONG_LABEL)):
        with pytest.raises(ResolveFailure) as caught:
            call()
        failure = caught.value
        assert failure.message.startswith(f"Cannot resolve '{LONG_LABEL}': it is not a valid host name (")
        assert failure.reason.startswith("it is not a valid host name (")
        assert failure.cause is Cause.DNS_FAILURE and failure.errno is None
        assert isinstance(failure.__cause__, UnicodeError)


def test_literals_need_no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    from netdiag.adapters.net import resolve

    real = socket.getaddrinfo

    def numeric_only(host: object, *args: object) -> object:
        assert args[-1] == socket.AI_NUMERICHOST, "a literal went to the resolver"
        return real(host, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(resolve.socket, "getaddrinfo", numeric_only)
    assert resolve.resolve_host("127.0.0.1") == ["127.0.0.1"]
    assert resolve.resolve_host("::1") == ["::1"]
