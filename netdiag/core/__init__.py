"""Pure logic: stdlib only, no sockets, no printing, nothing of ours outside ``core``."""
