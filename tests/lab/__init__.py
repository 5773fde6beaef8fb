"""Replicas of the classic socket-programming lab's own programs: the wire behaviour netdiag must match.

These are written the way students write them (plain blocking ``socket`` calls, ``recv(1024)``, a thread
per client, ``print`` for logging) because that is what netdiag meets in a lab. Each module runs as a
program with the port as first argument (``python tests/lab/reply_server.py 0``); servers bind
127.0.0.1 and print ``listening on PORT`` as their first line (port 0 lets the OS choose), so tests can
wait for it (``lab.runner.running_lab_server``).

Wire behaviour netdiag must stay compatible with:

* **Messages are not framed.** A lab client calls ``send()`` once per message, with no newline, and then
  blocks in ``recv(1024)`` until the answer arrives. One ``recv`` on the server is taken to be one whole
  message, which only works because the client waits for the answer before sending again. netdiag
  ``connect --message`` therefore sends each message exactly as given (no newline by default) and waits
  for a reply before sending the next; ``netdiag listen`` treats each chunk as a message until a client
  shows a newline.
* **echo_server**: thread per client; every chunk received is sent back unchanged (``sendall``) until
  the client closes (``recv`` returns ``b""``).
* **reply_server** (handout 1.11): thread per client; each message is printed and answered with
  ``accepted`` (no newline); the message ``close`` (the whole message, any case: ``request.lower() ==
  "close"``, so ``close\n`` is just a message) is answered with ``closed`` and the server closes that
  connection. Other clients go on. ``recv()`` returning ``b""`` is not handled: after a client's FIN it
  answers ``accepted`` in a loop until a ``send()`` fails.
* **detailed_server** (handout 1.10): the same answers for one client, then it exits; no
  ``SO_REUSEADDR`` (a restart right after fails while its connection waits in TIME_WAIT), and the same
  loop on ``b""``, which ends in a ``BrokenPipeError`` traceback once the client has gone.
* **greeting_server**: one client at a time; on accept it sends ``You are connected``, receives one
  message (``recv(1024)``), prints ``Received: MESSAGE`` and closes that connection, then accepts the
  next. A client that sends nothing keeps it waiting.
* **udp_echo_server**: ``recvfrom(1024)`` and ``sendto`` the datagram back to its sender. Replies are
  at most 1024 bytes: a longer datagram is truncated by ``recvfrom(1024)``, as in the lab.
* **tcp_client**: connects, then for each message (command-line arguments, or stdin lines when there
  are none) does one ``send()`` without newline and one ``recv(1024)``, printing each reply on its own
  line; it stops after the server answers ``closed`` or closes. **greeting_client** first prints the
  greeting it receives, then sends its one message. **udp_client** sends each message as one datagram
  and waits (2 s) for the echo.

Servers run until they are killed (students' servers have no shutdown); tests terminate them.
"""
