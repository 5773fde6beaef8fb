"""Packet capture (``netdiag handshake``, ``explain``'s capture of a failing attempt, ``--pcap`` files).

Front: ``live`` (capture a handshake); ``attempt`` captures one connection attempt for ``explain``;
``pcap_file`` reads a saved capture without scapy; ``scapy_shim`` is the one place that touches scapy.
"""
