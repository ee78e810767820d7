"""The `pipes_subprocess` client: Dagster's subprocess Pipes client with the child's output scrubbed.

`dg.PipesSubprocessClient` lets a child (`spark-submit` of the continuous bronze job) write straight
to the run worker's stdout and stderr, which Dagster captures as the step's compute logs and the UI
shows; whatever the child prints (Spark's configuration dump, a connector's error with an endpoint's
userinfo) would be stored unscrubbed. This client runs the same Pipes session (context injector,
message reader, bootstrap variables, SIGINT on termination) but reads the child's stdout and stderr
line by line and writes each through the step's scrubber (`core/scrubbed_steps.py`, the redaction
failures and log lines get): the step's secrets, secret-named variables of the child's environment,
and URL userinfo, `Authorization` headers and `password=` assignments by shape.

Dagster offers no hook on the child's output (`forward_stdio=False` pipes it and never reads it), so
`run` follows `PipesSubprocessClient.run` with its own `Popen`; Pipes' documented way to customise
a launch is a client of one's own around `open_pipes_session`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from subprocess import PIPE, Popen
from typing import IO, Any, TextIO

import dagster as dg
from dagster._core.errors import DagsterPipesExecutionError

from steam_platform.core.redaction import is_secret_name
from steam_platform.core.scrubbed_steps import Scrubber, step_secrets

#: Longest wait for a relay to finish copying the child's last lines after it exited.
RELAY_JOIN_TIMEOUT_S = 10.0


class ScrubbedPipesSubprocessClient(dg.PipesSubprocessClient):
    """`dg.PipesSubprocessClient` whose child's stdout and stderr reach the logs scrubbed."""

    def run(  # type: ignore[override]
        self,
        *,
        context: dg.OpExecutionContext | dg.AssetExecutionContext,
        extras: Mapping[str, Any] | None = None,
        command: str | Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        """Run `command` in a Pipes session as the parent does, relaying its output scrubbed."""
        child_env = {**self.env, **(env or {})}
        scrubber = Scrubber(step_secrets(context) | _secret_values(child_env))
        with dg.open_pipes_session(
            context=context,
            context_injector=self.context_injector,
            message_reader=self.message_reader,
            extras=extras,
        ) as session:
            process = Popen(
                command,
                cwd=cwd or self.cwd,
                env={**os.environ, **child_env, **session.get_bootstrap_env_vars()},
                stdout=PIPE,
                stderr=PIPE,
            )
            assert process.stdout is not None and process.stderr is not None
            relays = [
                _relay(process.stdout, sys.stdout, scrubber),
                _relay(process.stderr, sys.stderr, scrubber),
            ]
            try:
                process.wait()
                if process.returncode != 0:
                    raise DagsterPipesExecutionError(
                        f"External execution process failed with code {process.returncode}"
                    )
            except dg.DagsterExecutionInterruptedError:
                if self.forward_termination:
                    context.log.info("[pipes] execution interrupted, sending SIGINT to subprocess.")
                    process.send_signal(signal.SIGINT)
                    process.wait(timeout=self.termination_timeout_seconds)
                raise
            finally:
                for relay in relays:
                    relay.join(timeout=RELAY_JOIN_TIMEOUT_S)
        return dg.PipesClientCompletedInvocation(session)


def _secret_values(env: Mapping[str, str]) -> set[str]:
    """The values of `env`'s secret-named variables (`AWS_SECRET_ACCESS_KEY`, ...)."""
    return {value for name, value in env.items() if value and is_secret_name(name)}


def _relay(source: IO[bytes], sink: TextIO, scrubber: Scrubber) -> threading.Thread:
    """A thread copying `source` to `sink` line by line, each line scrubbed (a secret never spans
    two lines), until the child closes it."""

    def copy() -> None:
        with source:
            for line in _lines(source):
                sink.write(scrubber.text(line))
                sink.flush()

    thread = threading.Thread(target=copy, name="scrubbed-pipes-relay", daemon=True)
    thread.start()
    return thread


def _lines(source: IO[bytes]) -> Iterable[str]:
    for raw in iter(source.readline, b""):
        yield raw.decode(errors="replace")
