"""Thin adapters: OS calls in, core types out; ``OSError`` is translated here, at the edge."""
