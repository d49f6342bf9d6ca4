"""Two real Myna servers federate over loopback: follow, signed Accept, both directions.

A follow can only become accepted through two signed POSTs that the other side verified
(A's Follow in B's inbox, B's Accept in A's inbox), so "accepted" here proves both
servers' signing and verification against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.json_search import entries_mentioning, has_word, is_accepted
from tests.support.myna_proc import (
    DATABASE_KINDS,
    MynaProcess,
    database_url,
    free_port,
    postgres_skip_reason,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(params=DATABASE_KINDS)
def new_database(request: pytest.FixtureRequest) -> Iterator[Callable[[], str | None]]:
    """A factory of fresh database URLs (None = SQLite in the data dir), cleaned up after."""
    if request.param == "postgresql" and (reason := postgres_skip_reason()) is not None:
        pytest.skip(reason)
    with ExitStack() as stack:
        yield lambda: stack.enter_context(database_url(request.param))


@pytest.fixture
def two_mynas(
    tmp_path: Path, new_database: Callable[[], str | None]
) -> Iterator[tuple[MynaProcess, MynaProcess]]:
    with ExitStack() as stack:
        a = stack.enter_context(
            MynaProcess(tmp_path / "a", port=free_port(), database_url=new_database())
        )
        b = stack.enter_context(
            MynaProcess(tmp_path / "b", port=free_port(), database_url=new_database())
        )
        yield a, b


def _follow_and_wait(follower: MynaProcess, followed: MynaProcess, target: str) -> None:
    def logs() -> str:
        return f"{follower.describe()}\n{followed.describe()}"

    follower.cli_json("follow", target)

    def accepted() -> bool:
        doc = follower.cli_json("following")
        return any(is_accepted(e) for e in entries_mentioning(doc, followed.actor_url))

    wait_for(
        accepted,
        timeout=15,
        message=lambda: (
            f"{follower.base_url} `following` never showed {followed.actor_url} "
            f"as accepted: {follower.cli('following').stdout}\n{logs()}"
        ),
    )
    wait_for(
        lambda: entries_mentioning(followed.cli_json("followers"), follower.actor_url),
        timeout=15,
        message=lambda: (
            f"{followed.base_url} `followers` never listed {follower.actor_url}: "
            f"{followed.cli('followers').stdout}\n{logs()}"
        ),
    )
    wait_for(
        lambda: [
            e
            for e in entries_mentioning(followed.cli_json("notifications"), follower.actor_url)
            if has_word(e, "follow")
        ],
        timeout=15,
        message=lambda: (
            f"{followed.base_url} has no follow notification from "
            f"{follower.actor_url}: {followed.cli('notifications').stdout}\n{logs()}"
        ),
    )
    assert _verified_receipt(followed, "Follow", follower), logs()
    assert _verified_receipt(follower, "Accept", followed), logs()


def _verified_receipt(receiver: MynaProcess, activity_type: str, sender: MynaProcess) -> bool:
    """True if ``receiver`` logged a signature-verified inbox POST of that type from ``sender``.

    Myna logs ``inbox.received ... scheme=<signature scheme>`` only after verification.
    """
    return any(
        "inbox.received" in line
        and f"type={activity_type} " in line
        and f"actor={sender.actor_url} " in line
        and "scheme=" in line
        for line in receiver.log.splitlines()
    )


def test_two_mynas_follow_each_other(two_mynas: tuple[MynaProcess, MynaProcess]) -> None:
    a, b = two_mynas
    _follow_and_wait(a, b, target=b.actor_url)
    # The follow is one-way until B follows back.
    assert not entries_mentioning(b.cli_json("following"), a.actor_url)
    # Back the other way by handle, which goes through WebFinger.
    _follow_and_wait(b, a, target=f"@{a.handle}")
    assert a.running and b.running, f"{a.describe()}\n{b.describe()}"
