"""The authenticated Kafka cluster the `kafka_security` tests share: three KRaft nodes whose client
listener is SASL_SSL (SCRAM-SHA-512 over TLS, the stack's throwaway CA), in its own state folder on
free ports, started once for the package and always stopped at its end (with whatever else the main
run started in the same folder).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steam_devstack.kafka_drill import three_node_stack
from steam_devstack.stack import LocalStack


@pytest.fixture(scope="package")
def secure_stack(stack_state_dir: Callable[[str], Path]) -> Iterator[LocalStack]:
    state = stack_state_dir("kafka-sasl-ssl")
    try:
        with three_node_stack(state, kafka_security="sasl_ssl") as stack:
            yield stack
    finally:
        LocalStack(state).down()  # also what `steam-platform run` started in this folder
