"""Test helpers: waits with deadlines, running the CLI, network namespaces (see each module)."""
