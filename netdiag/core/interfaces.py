"""Interfaces and the lab's question: which address should a classmate use to reach this machine?

Pure: the adapter (psutil; the default route from /proc/net/route, macOS's ``route -n get default`` or
Windows' ``route print -4``, whose outputs are parsed here) fills ``Interface`` values; the choice and the
plain-words meanings of 127.0.0.1, 0.0.0.0 and the reachable address are decided here, so they are tested
without a network. The choice prefers, in order: the interface of the default route, interfaces that look
physical over bridges and container links (docker0, virbr0, br-..., veth...), IPv4 over IPv6. Loopback,
link-local (169.254/16, fe80::/10) and down interfaces never qualify: nobody else can use them, and
neither do the host-only adapters of virtual machines and VPNs on Windows and macOS (vEthernet for
Hyper-V and WSL, VirtualBox, VMware; utun, bridge, awdl, llw), whose addresses no classmate can reach
even when one of them carries the default route (a VPN).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

VIRTUAL_PREFIXES = ("docker", "br-", "virbr", "veth", "vboxnet", "vmnet", "cni", "flannel", "cali",
                    "tailscale", "zt", "lxc", "lxd", "podman", "tun", "tap", "utun", "awdl", "llw")

HOST_ONLY_NAMES = ("vethernet", "hyper-v", "wsl", "virtualbox", "vmware", "vboxnet", "vmnet",
                   "npcap loopback")
"""Substrings (lower case) of Windows' adapter names, and Linux's, that are never an address for others."""
HOST_ONLY_PREFIXES = ("utun", "bridge", "awdl", "llw", "anpi", "gif", "stf", "ipsec", "ppp")
"""macOS interface prefixes of VPN tunnels, Thunderbolt/VM bridges and Apple's peer-to-peer Wi-Fi links."""

ANY_IPV4 = "0.0.0.0"
LOOPBACK_IPV4 = "127.0.0.1"


@dataclass(frozen=True)
class InterfaceAddress:
    """One address of an interface; ``prefix_length`` is the netmask as a count of bits."""

    family: str  # "ipv4" or "ipv6"
    address: str
    netmask: str | None
    prefix_length: int | None

    @property
    def usable_by_others(self) -> bool:
        """Not loopback, not link-local, not unspecified: another machine can send to it."""
        ip = ipaddress.ip_address(self.address.split("%", 1)[0])
        return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


@dataclass(frozen=True)
class Interface:
    """One network interface as ``netdiag interfaces`` shows it."""

    name: str
    up: bool
    mtu: int | None
    speed_mbps: int | None  # None when the driver does not say (virtual links, Wi-Fi on some systems)
    loopback: bool
    default_route: bool = False
    mac: str | None = None
    addresses: tuple[InterfaceAddress, ...] = field(default_factory=tuple)

    @property
    def looks_virtual(self) -> bool:
        return self.name.lower().startswith(VIRTUAL_PREFIXES) or self.host_only

    @property
    def host_only(self) -> bool:
        """A virtual machine's or VPN's adapter (Windows, macOS): never the address for classmates."""
        name = self.name.lower()
        return any(part in name for part in HOST_ONLY_NAMES) or name.startswith(HOST_ONLY_PREFIXES)


@dataclass(frozen=True)
class ReachAdvice:
    """The answer to "which address should others use?": the best candidate, the others, and why."""

    address: str | None
    interface: str | None
    reason: str
    others: tuple[tuple[str, str], ...] = ()  # (address, interface) of other candidates

    def bind_meanings(self) -> list[tuple[str, str]]:
        """What a server bound to 127.0.0.1, to 0.0.0.0 and to the reachable address accepts."""
        mine = self.address
        meanings = [(
            LOOPBACK_IPV4,
            "only programs on this machine can connect; a classmate's connection is refused "
            "(ConnectionRefusedError), because 127.0.0.1 always means \"this machine\" to whoever uses it.",
        )]
        if mine is None:
            meanings.append((ANY_IPV4, "every address of this machine; today that is only loopback, so "
                                       "still only programs on this machine can connect."))
            return meanings
        meanings.append((
            ANY_IPV4,
            f"every address of this machine at once: 127.0.0.1 for programs here, {mine} for classmates "
            "(if no firewall blocks the port). It is where a server listens, never an address to connect to.",
        ))
        meanings.append((
            mine,
            f"only connections addressed to {mine}: classmates can connect, and so can programs here "
            f"through {mine}, but a connection to 127.0.0.1 is refused.",
        ))
        return meanings


def prefix_length(netmask: str | None) -> int | None:
    """``255.255.255.0`` -> 24, ``ffff:ffff:ffff:ffff::`` -> 64; None when unknown or not a mask."""
    if not netmask:
        return None
    try:
        mask = ipaddress.ip_address(netmask)
    except ValueError:
        return None
    bits = int(mask)
    width = mask.max_prefixlen
    length = bin(bits).count("1")
    contiguous = bits == ((1 << width) - 1) ^ ((1 << (width - length)) - 1)
    return length if contiguous else None


def _rank(interface: Interface, address: InterfaceAddress) -> tuple[int, int, int, str]:
    return (0 if interface.default_route else 1, 1 if interface.looks_virtual else 0,
            0 if address.family == "ipv4" else 1, interface.name)


def choose_address_for_others(interfaces: Sequence[Interface]) -> ReachAdvice:
    """The address a classmate on the same network should use to reach this machine."""
    candidates = sorted(
        ((interface, address) for interface in interfaces
         if interface.up and not interface.loopback and not interface.host_only
         for address in interface.addresses if address.usable_by_others),
        key=lambda pair: _rank(*pair),
    )
    if not candidates:
        host_only = [i.name for i in interfaces if i.up and i.host_only
                     and any(a.usable_by_others for a in i.addresses)]
        if host_only:
            return ReachAdvice(None, None, f"only virtual adapters ({', '.join(host_only)}) have addresses, "
                                           "and classmates cannot reach those: connect to the network "
                                           "(Wi-Fi or Ethernet) first.")
        return ReachAdvice(None, None, "no interface that is up has an address other machines can use "
                                       "(only loopback or link-local): connect to a network first.")
    best_interface, best = candidates[0]
    if best_interface.default_route:
        reason = f"{best_interface.name} carries the default route: it is this machine's link to the network"
    elif not best_interface.looks_virtual:
        reason = f"{best_interface.name} is the only network link that is up" if len(
            {i.name for i, _ in candidates}) == 1 else f"{best_interface.name} looks like the network link"
    else:
        reason = f"{best_interface.name} is the only address besides loopback (a virtual link)"
    others = tuple((a.address, i.name) for i, a in candidates[1:])
    return ReachAdvice(best.address, best_interface.name, reason, others)


def parse_route_get(text: str) -> str | None:
    """The interface of the default route in macOS's (BSD's) ``route -n get default`` output, or None.

    The line wanted is ``  interface: en0``; with no default route, route prints an error and no such line.
    """
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "interface" and value.strip():
            return value.strip()
    return None


def parse_route_print(text: str) -> list[str]:
    """The local addresses of the IPv4 default routes in Windows' ``route print -4`` output, best first.

    Windows names a route's interface by its address (the ``Interface`` column); the adapter maps it to the
    adapter's name. Read by shape, not by headings, so a translated Windows reads the same: the active
    routes' rows have five columns (destination, mask, gateway, interface, metric); the persistent routes'
    rows have four and are not in force by themselves. Sorted by metric, the lowest (preferred) first."""
    found: list[tuple[int, str]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 5 and fields[:2] == ["0.0.0.0", "0.0.0.0"] and fields[4].isdigit():
            try:
                ipaddress.IPv4Address(fields[3])
            except ValueError:
                continue
            found.append((int(fields[4]), fields[3]))
    return [address for _, address in sorted(found)]
