"""Work on a second thread beside the caller's: the next chunk read while one is priced
(``made_ahead``) and the one before written (``written_behind``).

Arrow's parser, NumPy, pandas' vector work and file writes release the GIL often enough for a
second thread to run beside the caller on a second core. Each helper holds a bounded amount of
work in hand, raises the other thread's first error on the calling thread, and stops its thread
(and waits for it) when the caller stops, so no file is left open behind the caller's back.
"""
from __future__ import annotations

import contextlib
import queue
import threading


def made_ahead(items, name: str = "tariffcalc-reader", room: int = 1, size=None):
    """The items of ``items`` in order, each made on a thread called ``name`` while the caller
    works on the one before. A new item is begun only while the items made and not yet taken
    weigh less than ``room`` (each weighs ``size(item)``, 1 if no ``size``): memory holds those,
    the one being made and the caller's. An error making an item is raised where the item would
    have come, after every item before it. A caller that stops early stops the thread and waits
    for it; ``items`` is closed on that thread before this returns."""
    ready, lock, stop = queue.Queue(), threading.Condition(), threading.Event()
    waiting = [0]  # the weight of the items made and not yet taken
    done = object()

    def work():
        source = iter(items)
        try:
            while True:
                with lock:
                    while waiting[0] >= room and not stop.is_set():
                        lock.wait()
                if stop.is_set():
                    return
                item = next(source, done)
                if item is done:
                    ready.put((done, 0, None))
                    return
                weight = size(item) if size else 1
                with lock:
                    waiting[0] += weight
                ready.put((item, weight, None))
        except BaseException as error:  # noqa: BLE001 - raised again on the calling thread
            ready.put((done, 0, error))
        finally:
            close = getattr(source, "close", None)
            if close:
                close()

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, weight, error = ready.get()
            if error is not None:
                raise error
            if item is done:
                return
            with lock:
                waiting[0] -= weight
                lock.notify()  # the next is made while this one is used
            yield item
    finally:
        stop.set()
        with lock:
            lock.notify()
        thread.join()


def written_behind(write, items, wait: bool = True, name: str = "tariffcalc-writer") -> None:
    """``write(item)`` for each of ``items``, on a thread called ``name`` one item behind: making
    an item (pricing a chunk) and writing one (formatting it, pyarrow, the file) run side by side.
    At most two items wait (one queued, one being written); the first failure of either side is
    raised. Interrupted (a signal's SystemExit), nothing more is written; the write under way is
    waited for if ``wait`` (a Parquet writer must not be closed under it)."""
    waiting, failed, stop = queue.Queue(maxsize=1), [], threading.Event()

    def work():
        while (item := waiting.get()) is not None:
            if not (stop.is_set() or failed):
                try:
                    write(item)
                except BaseException as error:  # noqa: BLE001 - raised again on the calling thread
                    failed.append(error)

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        for item in items:
            if failed:
                break
            waiting.put(item)
        waiting.put(None)
        thread.join()
    except BaseException:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                waiting.get_nowait()
        waiting.put_nowait(None)
        if wait:
            thread.join()
        raise
    if failed:
        raise failed[0]
