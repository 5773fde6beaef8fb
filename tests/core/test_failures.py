"""Failures carry what they are about as fields, so callers read them instead of re-parsing the sentence."""

from __future__ import annotations

import errno

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import NetdiagError, NetworkFailure, PrivilegeError, ResolveFailure, UsageError


def test_a_failure_without_fields_has_none() -> None:
    failure = UsageError("bad target")
    assert (failure.message, str(failure)) == ("bad target", "bad target")
    assert (failure.cause, failure.errno, failure.host, failure.port, failure.explanation) == (
        None, None, None, None, None)
    assert failure.exit_status is ExitStatus.USAGE


def test_the_cause_comes_from_the_explanation_unless_given() -> None:
    refused = NetworkFailure("refused", explanation=explanation_for(Cause.NOTHING_LISTENING))
    assert refused.cause is Cause.NOTHING_LISTENING
    given = NetworkFailure("x", explanation=explanation_for(Cause.UNKNOWN), cause=Cause.TIMEOUT)
    assert given.cause is Cause.TIMEOUT
    assert NetdiagError("x", cause=Cause.TIMEOUT).cause is Cause.TIMEOUT


def test_fields_are_kept_as_given() -> None:
    failure = PrivilegeError("Cannot listen on TCP 127.0.0.1:80: ports below 1024 need root.",
                             explanation=explanation_for(Cause.PRIVILEGED_PORT, port=80),
                             errno=errno.EACCES, host="127.0.0.1", port=80)
    assert (failure.cause, failure.errno, failure.host, failure.port) == (
        Cause.PRIVILEGED_PORT, errno.EACCES, "127.0.0.1", 80)
    assert failure.exit_status is ExitStatus.NO_PRIVILEGES


def test_a_resolve_failure_keeps_the_resolvers_words_apart_from_its_sentence() -> None:
    failure = ResolveFailure("nothing.invalid", "Name or service not known", port=7, errno=-2,
                             explanation=explanation_for(Cause.DNS_FAILURE))
    assert failure.message == "Cannot resolve 'nothing.invalid': Name or service not known."
    assert failure.reason == "Name or service not known"
    assert (failure.cause, failure.errno, failure.host, failure.port) == (
        Cause.DNS_FAILURE, -2, "nothing.invalid", 7)
    assert isinstance(failure, NetworkFailure)
    assert failure.exit_status is ExitStatus.NETWORK_SAID_NO


def test_a_host_with_the_sentences_own_separator_does_not_leak_into_the_reason() -> None:
    """Cutting the sentence at ``': `` (what explain did) gave the wrong words for such a host."""
    failure = ResolveFailure("a': b", "No address associated with hostname",
                             explanation=explanation_for(Cause.DNS_FAILURE))
    assert failure.reason == "No address associated with hostname"
