"""The lab's protocols, sans-I/O: no networking code at all (the idea of python-hyper/h11).

Theory of operation
-------------------
A server engine (``netdiag.adapters.servers``: asyncio or threads) accepts a connection and asks
``factory.make_handler`` for a handler (``handlers.py``, ``chat.py``). From then on the engine only moves
bytes: it feeds what it reads to the handler and performs the actions the handler returns (``Send``
bytes to this or another connection, ``Close`` with a ``CloseReason``). Everything the lab protocols
*mean* lives here, so both engines behave identically and the protocols are tested without a socket.

Modes: ``echo`` (bytes back, unframed), ``reply`` (``accepted`` / ``close`` -> ``closed``), ``greet``
(``You are connected``, one message, close), ``chat`` (a room, see ``chat.py``), ``sink`` (read only).

Framing (``framing.py``): a connection that has never sent a newline is a lab client and each chunk is one
message; from its first newline on it is a line client, messages end at ``\\n`` (``\\r\\n`` too) and
partial lines are buffered. Replies end with ``\\n`` for line clients, with nothing for lab clients.

Limits live here and say why: ``max_line`` (64 KiB) bounds what one connection can make the server buffer;
an over-long message gets an explanation and the connection is closed (``line-too-long``).

Text from clients is made safe in ``text.py``; the event log's kinds of event live in ``events.py`` (its
lines are written by ``netdiag.render.log_lines``).
This package itself imports nothing: import the modules by name (the CLI imports only ``options`` at
start-up, to build its options).
"""
