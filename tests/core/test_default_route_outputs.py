"""The default route as macOS's ``route -n get default`` and Windows' ``route print -4`` print it, parsed.

The samples are those commands' output formats (macOS 13, Windows 11, a German Windows 10), addresses
changed to documentation ones; the parsers read them without running anything.
"""

from __future__ import annotations

import pytest

from netdiag.core.interfaces import parse_route_get, parse_route_print

pytestmark = pytest.mark.portable

MACOS_ROUTE_GET = """\
   route to: default
destination: default
       mask: default
    gateway: 192.0.2.1
  interface: en0
      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING,GLOBAL>
 recvpipe  sendpipe  ssthresh  rtt,msec    rttvar  hopcount      mtu     expire
       0         0         0         0         0         0      1500         0
"""

MACOS_ROUTE_GET_VPN = """\
   route to: default
destination: default
       mask: default
  interface: utun4
      flags: <UP,DONE,CLONING,STATIC,GLOBAL>
 recvpipe  sendpipe  ssthresh  rtt,msec    rttvar  hopcount      mtu     expire
       0         0         0         0         0         0      1380         0
"""

WINDOWS_ROUTE_PRINT = """\
===========================================================================
Interface List
 17...a4 bb 6d 3e 12 9f ......Intel(R) Wi-Fi 6 AX201 160MHz
 11...00 15 5d 8a 41 02 ......Hyper-V Virtual Ethernet Adapter
  9...00 ff 2c 1a 7e 33 ......TAP-Windows Adapter V9
  1...........................Software Loopback Interface 1
===========================================================================

IPv4 Route Table
===========================================================================
Active Routes:
Network Destination        Netmask          Gateway       Interface  Metric
          0.0.0.0          0.0.0.0      192.0.2.1    192.0.2.42     35
          0.0.0.0          0.0.0.0         198.51.100.1        198.51.100.6    257
         198.51.100.0    255.255.255.0         On-link          198.51.100.6    257
        127.0.0.0        255.0.0.0         On-link         127.0.0.1    331
        127.0.0.1  255.255.255.255         On-link         127.0.0.1    331
  127.255.255.255  255.255.255.255         On-link         127.0.0.1    331
      203.0.113.0    255.255.240.0         On-link       203.0.113.1   5256
      192.0.2.0    255.255.255.0         On-link      192.0.2.42    291
     192.0.2.42  255.255.255.255         On-link      192.0.2.42    291
        224.0.0.0        240.0.0.0         On-link         127.0.0.1    331
  255.255.255.255  255.255.255.255         On-link         127.0.0.1    331
===========================================================================
Persistent Routes:
  Network Address          Netmask  Gateway Address  Metric
          0.0.0.0          0.0.0.0      192.0.2.65  Default
===========================================================================
"""

WINDOWS_ROUTE_PRINT_GERMAN = """\
IPv4-Routentabelle
===========================================================================
Aktive Routen:
     Netzwerkziel    Netzwerkmaske          Gateway    Schnittstelle Metrik
          0.0.0.0          0.0.0.0    192.0.2.129   192.0.2.130     25
        127.0.0.0        255.0.0.0   Auf Verbindung         127.0.0.1    331
===========================================================================
Ständige Routen:
  Keine
"""

WINDOWS_NO_DEFAULT_ROUTE = """\
IPv4 Route Table
===========================================================================
Active Routes:
Network Destination        Netmask          Gateway       Interface  Metric
        127.0.0.0        255.0.0.0         On-link         127.0.0.1    331
===========================================================================
Persistent Routes:
  None
"""


def test_macos_names_the_interface_of_the_default_route() -> None:
    assert parse_route_get(MACOS_ROUTE_GET) == "en0"
    assert parse_route_get(MACOS_ROUTE_GET_VPN) == "utun4"  # the choice then skips it (a VPN tunnel)


def test_macos_without_a_default_route() -> None:
    # route prints "route: writing to routing socket: not in table" to stderr, nothing to stdout
    assert parse_route_get("") is None
    assert parse_route_get("   route to: default\ndestination: default\n") is None


def test_windows_gives_the_default_routes_interface_addresses_lowest_metric_first() -> None:
    assert parse_route_print(WINDOWS_ROUTE_PRINT) == ["192.0.2.42", "198.51.100.6"]  # not the persistent one


def test_windows_is_read_the_same_in_another_language() -> None:
    assert parse_route_print(WINDOWS_ROUTE_PRINT_GERMAN) == ["192.0.2.130"]


def test_windows_without_a_default_route() -> None:
    assert parse_route_print(WINDOWS_NO_DEFAULT_ROUTE) == []
    assert parse_route_print("") == []
