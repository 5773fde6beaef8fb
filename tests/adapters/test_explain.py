"""Gathering explain's facts: a name that does not resolve is a fact read from the failure's fields."""

from __future__ import annotations

from typing import NoReturn

import pytest

from netdiag.adapters import explain
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.diagnosis import diagnose
from netdiag.core.failures import ResolveFailure


def test_the_resolvers_words_are_read_from_the_field_not_cut_from_the_sentence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A host holding the sentence's own separator (``': ``) made the old parsing return the wrong words;
    the field cannot be wrong. Nothing else is gathered once the name failed (no route, no attempt)."""
    host = "x': y"

    def unresolved(name: str, family: int = 0) -> NoReturn:
        raise ResolveFailure(name, "No address associated with hostname",
                             explanation=explanation_for(Cause.DNS_FAILURE))

    monkeypatch.setattr(explain, "resolve_host", unresolved)
    obs = explain.gather_observations(host, 7)
    assert obs.resolve_error == "No address associated with hostname"
    assert obs.addresses == () and obs.attempts == ()
    assert diagnose(obs).cause is Cause.DNS_FAILURE


def test_a_resolver_sentence_ending_with_a_full_stop_is_shown_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows says "No such host is known." with its own full stop; the step's sentence adds one."""
    def unresolved(name: str, family: int = 0) -> NoReturn:
        raise ResolveFailure(name, "No such host is known.", explanation=explanation_for(Cause.DNS_FAILURE))

    monkeypatch.setattr(explain, "resolve_host", unresolved)
    assert explain.gather_observations("nothing.invalid", 7).resolve_error == "No such host is known"


def test_an_over_long_label_is_a_resolve_step_failure() -> None:
    host = "a" * 64 + ".example"  # the idna codec refuses it before any query
    obs = explain.gather_observations(host, 7)
    assert obs.resolve_error is not None
    assert obs.resolve_error.startswith("it is not a valid host name (")
    assert diagnose(obs).cause is Cause.DNS_FAILURE
