"""netdiag: see and fix what happens on sockets.

Layers (dependencies point inward): ``cli`` -> ``adapters`` -> ``core`` and ``cli`` -> ``render`` -> ``core``.
``core`` is pure (stdlib only, no sockets, no printing); ``adapters`` touch the OS; ``render`` turns data into
text; ``cli`` parses, calls, renders and exits.
"""

__version__ = "0.1.0"
