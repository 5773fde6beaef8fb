"""Packet capture (``netdiag handshake``, ``explain``'s capture of a failing attempt, ``--pcap`` files).

Front: ``live`` (capture a handshake); ``attempt`` captures one connection attempt for ``explain``;
``pcap_file`` reads a saved capture without scapy. Only two modules touch scapy: ``scapy_glue``, through
its public API, and ``scapy_private``, the few scapy internals netdiag needs (tested against the
installed scapy, so an upgrade that changes them fails loudly).
"""
