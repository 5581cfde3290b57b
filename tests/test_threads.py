"""Work on a second thread: items made ahead in order, at most the room ahead; items written
behind in order; the other thread's first error raised on the caller's; an early stop closes
the source and waits for the thread."""
import threading

import pytest

from tariffcalc import threads


def test_made_ahead_gives_every_item_in_order_one_ahead_on_another_thread():
    made, names = [], set()

    def items():
        for n in range(6):
            names.add(threading.current_thread().name)
            made.append(n)
            yield n

    seen = []
    for item in threads.made_ahead(items()):
        seen.append(item)
        assert len(made) <= item + 2  # never more than one made ahead of the one in use
    assert seen == list(range(6))
    assert names == {"tariffcalc-reader"}


def test_made_ahead_raises_an_error_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("row 7: bad date")

    seen = []
    with pytest.raises(ValueError, match="row 7"):
        for item in threads.made_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_made_ahead_stopped_early_closes_its_source_and_its_thread():
    closed = threading.Event()

    def items():
        try:
            yield from range(100)
        finally:
            closed.set()

    before = {t.ident for t in threading.enumerate()}
    ahead = threads.made_ahead(items())
    assert next(ahead) == 0
    ahead.close()
    assert closed.is_set()  # closed before close() returned: no file left open
    assert not [t for t in threading.enumerate() if t.ident not in before and t.name == "tariffcalc-reader"]


def test_made_ahead_by_weight_holds_at_most_its_room_of_items_made_and_not_taken():
    made = []

    def items():
        for n in range(40):
            made.append(n)
            yield [n] * 5  # each weighs 5

    taken = 0
    for item in threads.made_ahead(items(), room=20, size=len):
        taken += 1
        assert len(made) <= taken + 4 + 1  # the one taken, 20 in room (4 items), one being made
        assert item == [taken - 1] * 5
    assert taken == 40


def test_written_behind_writes_every_item_in_order_on_another_thread():
    written, names = [], set()

    def write(item):
        names.add(threading.current_thread().name)
        written.append(item)

    threads.written_behind(write, iter(range(7)))
    assert written == list(range(7))
    assert names == {"tariffcalc-writer"}


def test_written_behind_raises_the_first_failure_of_either_side_and_writes_no_more():
    written = []

    def write(item):
        if item == 2:
            raise OSError("disk full")
        written.append(item)

    with pytest.raises(OSError, match="disk full"):
        threads.written_behind(write, iter(range(100)))
    assert written == [0, 1]  # nothing after the failure is written

    def failing():
        yield 1
        raise ValueError("row 9: bad date")

    written.clear()
    with pytest.raises(ValueError, match="row 9"):
        threads.written_behind(written.append, failing())
    assert written in ([], [1])  # the item still queued when the source failed is dropped, never more
    assert not [t for t in threading.enumerate() if t.name == "tariffcalc-writer" and t.is_alive()]
