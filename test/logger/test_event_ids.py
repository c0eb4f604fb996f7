"""New event ids: UUID-formatted, unique in a process, and never shared with a forked child."""

from __future__ import annotations

import os
import uuid

from zeroserve.logger.middleware import EventIds


def test_ids_are_uuid_shaped_and_unique() -> None:
    ids = EventIds()
    drawn = [ids() for _ in range(10_000)]
    assert len(set(drawn)) == len(drawn)
    parsed = uuid.UUID(drawn[0])
    assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    assert str(parsed) == drawn[0]


def test_a_forked_child_draws_its_own_random_part() -> None:
    ids = EventIds()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id, then leave without running pytest's teardown
        os.write(write, ids().encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    parent = ids()
    assert status == 0
    assert child[:24] != parent[:24]
