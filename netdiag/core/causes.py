"""The names of what can go wrong (``Cause``, stable codes) and the shape of an explanation.

Kept apart from the entries (``catalog``, ``catalog_programs``) so that both entry modules, and every
module that only needs a code, import the vocabulary without the whole knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Cause(str, Enum):
    """Stable cause codes (documented in docs/troubleshooting.md; used as JSON values)."""

    OK = "ok"
    NOTHING_LISTENING = "nothing-listening"
    LOOPBACK_ONLY_BIND = "loopback-only-bind"
    WRONG_ADDRESS_FAMILY = "wrong-address-family"
    NEAR_PORT = "near-port"
    PROTOCOL_MISMATCH = "protocol-mismatch"
    FIREWALL_DROP = "firewall-drop"
    FIREWALL_REJECT = "firewall-reject"
    OUTBOUND_FIREWALL = "outbound-firewall"
    BLOCKED_ROUTE = "blocked-route"
    ACCEPT_QUEUE_FULL = "accept-queue-full"
    HOST_UNREACHABLE = "host-unreachable"
    NO_ROUTE = "no-route"
    DNS_FAILURE = "dns-failure"
    CONNECTION_RESET = "connection-reset"
    TIMEOUT = "timeout"
    ADDRESS_IN_USE = "address-in-use"
    PRIVILEGED_PORT = "privileged-port"
    PORT_RESERVED = "port-reserved"
    ADDRESS_NOT_LOCAL = "address-not-local"
    BROKEN_PIPE = "broken-pipe"
    CONNECTION_ABORTED = "connection-aborted"
    TIME_WAIT = "time-wait"
    STR_NOT_BYTES = "str-not-bytes"
    SOCKET_CLOSED = "socket-closed"
    NOT_CONNECTED = "not-connected"
    ALREADY_CONNECTED = "already-connected"
    DECODE_ERROR = "decode-error"
    PORT_OUT_OF_RANGE = "port-out-of-range"
    INVALID_ARGUMENT = "invalid-argument"
    TOO_MANY_OPEN_FILES = "too-many-open-files"
    FILE_PERMISSION = "file-permission"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Explanation:
    """What a failure means for a person: one sentence, the likely causes, the numbered fixes."""

    cause: Cause
    title: str
    meaning: str
    likely_causes: tuple[str, ...]
    fixes: tuple[str, ...]
