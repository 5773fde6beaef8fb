"""Which address classmates should use, decided from interface data alone (no network needed)."""

from __future__ import annotations

import pytest

from netdiag.core.interfaces import Interface, InterfaceAddress, choose_address_for_others, prefix_length

pytestmark = pytest.mark.portable


def v4(address: str, prefix: int = 24) -> InterfaceAddress:
    return InterfaceAddress("ipv4", address, None, prefix)


def v6(address: str) -> InterfaceAddress:
    return InterfaceAddress("ipv6", address, None, 64)


LO = Interface("lo", True, 65536, None, loopback=True, addresses=(v4("127.0.0.1", 8), v6("::1")))
DOCKER = Interface("docker0", True, 1500, None, loopback=False, addresses=(v4("203.0.113.1"),))
WIFI = Interface("wlan0", True, 1500, 300, loopback=False,
                 addresses=(v6("fe80::1"), v6("2001:db8::5"), v4("198.51.100.7")))
WIRED_DEFAULT = Interface("eth0", True, 1500, 1000, loopback=False, default_route=True,
                          addresses=(v4("192.0.2.10"),))
DOWN = Interface("eth1", False, 1500, None, loopback=False, addresses=(v4("192.0.2.99"),))
LINK_LOCAL_ONLY = Interface("eth2", True, 1500, None, loopback=False, addresses=(v4("169.254.3.4", 16),))


@pytest.mark.parametrize(("netmask", "length"), [
    ("255.255.255.0", 24), ("255.0.0.0", 8), ("255.255.255.255", 32), ("ffff:ffff:ffff:ffff::", 64),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128), ("255.0.255.0", None), (None, None), ("junk", None),
])
def test_prefix_length(netmask: str | None, length: int | None) -> None:
    assert prefix_length(netmask) == length


@pytest.mark.parametrize(("interfaces", "address", "interface"), [
    ([LO, DOCKER, WIFI, WIRED_DEFAULT], "192.0.2.10", "eth0"),  # the default route wins
    ([LO, DOCKER, WIFI], "198.51.100.7", "wlan0"),  # physical over a container bridge, IPv4 first
    ([LO, DOCKER], "203.0.113.1", "docker0"),  # a bridge only when nothing else exists
    ([LO, DOWN, LINK_LOCAL_ONLY], None, None),  # down and link-local interfaces never qualify
    ([LO], None, None),
])
def test_choice_of_the_address_for_classmates(interfaces: list[Interface], address: str | None,
                                              interface: str | None) -> None:
    advice = choose_address_for_others(interfaces)
    assert (advice.address, advice.interface) == (address, interface)


def test_other_candidates_are_listed_and_never_loopback_or_link_local() -> None:
    advice = choose_address_for_others([LO, DOCKER, WIFI, WIRED_DEFAULT])
    assert advice.others == (("198.51.100.7", "wlan0"), ("2001:db8::5", "wlan0"), ("203.0.113.1", "docker0"))
    assert "default route" in advice.reason


def test_bind_meanings_name_the_reachable_address() -> None:
    meanings = dict(choose_address_for_others([LO, WIRED_DEFAULT]).bind_meanings())
    assert list(meanings) == ["127.0.0.1", "0.0.0.0", "192.0.2.10"]
    assert "only programs on this machine" in meanings["127.0.0.1"]
    assert "192.0.2.10 for classmates" in meanings["0.0.0.0"]
    assert "127.0.0.1 is refused" in meanings["192.0.2.10"]
    alone = dict(choose_address_for_others([LO]).bind_meanings())
    assert list(alone) == ["127.0.0.1", "0.0.0.0"]


# Windows and macOS: the names psutil reports there (friendly names on Windows), host-only adapters first
WIN_WSL = Interface("vEthernet (WSL)", True, 1500, 10000, loopback=False, addresses=(v4("192.0.2.161", 28),))
WIN_HYPERV = Interface("vEthernet (Default Switch)", True, 1500, 10000, loopback=False,
                       addresses=(v4("192.0.2.177", 28),))
WIN_VBOX = Interface("VirtualBox Host-Only Network", True, 1500, 1000, loopback=False,
                     addresses=(v4("192.0.2.193"),))
WIN_VMWARE = Interface("VMware Network Adapter VMnet8", True, 1500, 100, loopback=False,
                       addresses=(v4("192.0.2.209"),))
WIN_WIFI = Interface("Wi-Fi", True, 1500, 300, loopback=False, addresses=(v4("198.51.100.20"),))
MAC_VPN_DEFAULT = Interface("utun3", True, 1380, None, loopback=False, default_route=True,
                            addresses=(v4("192.0.2.225", 32),))
MAC_BRIDGE = Interface("bridge100", True, 1500, None, loopback=False, addresses=(v4("192.0.2.241"),))
MAC_AWDL = Interface("awdl0", True, 1484, None, loopback=False, addresses=(v6("2001:db8::a"),))
MAC_LLW = Interface("llw0", True, 1500, None, loopback=False, addresses=(v6("2001:db8::b"),))
MAC_EN0 = Interface("en0", True, 1500, None, loopback=False, addresses=(v4("198.51.100.30"),))
HOST_ONLY = [WIN_WSL, WIN_HYPERV, WIN_VBOX, WIN_VMWARE, MAC_VPN_DEFAULT, MAC_BRIDGE, MAC_AWDL, MAC_LLW]


@pytest.mark.parametrize(("interfaces", "address", "interface"), [
    ([WIN_WSL, WIN_HYPERV, WIN_VBOX, WIN_VMWARE, WIN_WIFI], "198.51.100.20", "Wi-Fi"),
    ([WIN_VMWARE, WIN_VBOX, WIN_WIFI, WIN_WSL], "198.51.100.20", "Wi-Fi"),  # order does not matter
    ([MAC_VPN_DEFAULT, MAC_BRIDGE, MAC_AWDL, MAC_LLW, MAC_EN0], "198.51.100.30", "en0"),  # not the VPN
])
def test_virtual_adapters_of_windows_and_macos_are_never_the_address_for_classmates(
        interfaces: list[Interface], address: str, interface: str) -> None:
    advice = choose_address_for_others(interfaces)
    assert (advice.address, advice.interface) == (address, interface)
    assert not {name for _, name in advice.others} & {i.name for i in HOST_ONLY}


def test_only_virtual_adapters_means_no_address_and_says_why() -> None:
    advice = choose_address_for_others([LO, *HOST_ONLY])
    assert advice.address is None and advice.others == ()
    assert "vEthernet (WSL)" in advice.reason and "Wi-Fi or Ethernet" in advice.reason
