"""One-process mode: in-process bus and SQLite FTS5 behind the same interfaces."""
