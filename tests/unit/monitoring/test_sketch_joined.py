"""Joining many windows' items for a merge (``joined``): on one or two threads, with the join
buffer reused across merges and never shared by two at once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conveyor.monitoring.sketches import joined
from conveyor.monitoring.sketches.joined import Joined


def _items(rng: np.random.Generator, windows: int) -> list[np.ndarray]:
    return [rng.normal(size=int(rng.integers(0, 50))) for _ in range(windows)]


@pytest.fixture(autouse=True)
def _no_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(joined, "_spare", None)


@pytest.mark.parametrize("parallel_min", [1, 1 << 40], ids=["two threads", "one thread"])
def test_take_gathers_what_the_plain_join_would(
    monkeypatch: pytest.MonkeyPatch, parallel_min: int
) -> None:
    monkeypatch.setattr(joined, "PARALLEL_MIN_ITEMS", parallel_min)
    rng = np.random.default_rng(1)
    for windows in (0, 1, 2, 3, 101):
        items = _items(rng, windows)
        plain = np.concatenate(items) if items else np.empty(0)
        index = rng.integers(0, max(plain.size, 1), size=plain.size * 2 if plain.size else 0)
        with Joined(items) as join:
            assert np.array_equal(
                join.starts, np.cumsum([len(i) for i in items]) - [len(i) for i in items]
            )
            np.testing.assert_array_equal(join.take(index), plain[index])
            np.testing.assert_array_equal(join.values(), plain)


def test_the_buffer_is_reused_and_taken_values_do_not_change_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(joined, "PARALLEL_MIN_ITEMS", 1)
    rng = np.random.default_rng(2)
    first_items, second_items = _items(rng, 40), _items(rng, 30)
    with Joined(first_items) as first:
        buffer = first.values().base
        taken = first.take(np.arange(first.values().size))
    expected = taken.copy()
    with Joined(second_items) as second:
        assert second.values().base is buffer  # the kept buffer, not a fresh mapping
        second.take(np.arange(second.values().size))
    np.testing.assert_array_equal(taken, expected)  # the gather copied out of the buffer


def test_buffers_over_the_retain_limit_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(joined, "RETAIN_MAX_ITEMS", 10)
    with Joined([np.ones(11)]) as join:
        join.values()
    assert joined._spare is None
    with Joined([np.ones(10)]) as join:
        join.values()
    assert joined._spare is not None
    assert joined._spare.size == 10


def test_a_join_never_read_borrows_nothing() -> None:
    with Joined([np.ones(5)]):
        pass
    assert joined._spare is None


def test_concurrent_merges_never_share_a_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(joined, "PARALLEL_MIN_ITEMS", 1)
    failures: list[str] = []
    start = threading.Barrier(4)

    def merge(seed: int) -> None:
        rng = np.random.default_rng(seed)
        start.wait()
        for _ in range(50):
            items = _items(rng, 20)
            plain = np.concatenate(items)
            with Joined(items) as join:
                got = join.take(np.arange(plain.size)[::-1])
            if not np.array_equal(got, plain[::-1]):
                failures.append(f"thread {seed}")

    threads = [threading.Thread(target=merge, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
