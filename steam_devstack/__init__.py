"""Local stack of real servers started as plain processes (no Docker).

`steam-platform stack up|down|status` drives it. Each service lives in `services/` and knows how to
install itself (idempotently, into the shared cache), start as its own process group, report health
and stop. State (data, logs, pid files, the chosen ports) lives in one folder, `.stack/` by default.
"""
