"""Probing ports (``netdiag probe``, and the probes of ``explain`` and ``load``).

Front: ``targets.probe_targets`` (resolve what the user typed, probe every address and port); ``scan``
probes one port or many, ``workers`` forks big scans across CPUs, ``engine`` is the non-blocking loop,
``half_open`` the raw-socket SYN probe, ``icmp`` the ICMP error watcher, ``socket_table`` the answers
read from this host's socket table (nothing sent).
"""
