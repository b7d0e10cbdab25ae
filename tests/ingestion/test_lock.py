"""Issue #10 item 8: one run per store. Two holders of the same store, in one process and across
processes (one killed with -9), on SQLite or PostgreSQL (ACLF_TEST_DATABASE_URL)."""
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from aclf.lock import StoreBusy, store_lock

SINCE = r"another run holds the store since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"


def test_a_second_holder_is_refused_with_the_first_ones_start_time(engine):
    """A second run (here another thread) is refused; the holder itself may take it again, as the
    assets of the nightly run do in the run's own thread."""
    refused = []

    def second():
        try:
            with store_lock(engine):
                pass
        except StoreBusy as exc:
            refused.append(str(exc))

    with store_lock(engine):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
        with store_lock(engine):                               # reentrant in the holder's thread
            pass
    assert len(refused) == 1 and re.match(SINCE, refused[0]), refused
    with store_lock(engine):                                   # released: the next run gets it
        pass


def test_a_second_holder_waits_for_the_first(engine):
    released = threading.Event()

    def first():
        with store_lock(engine):
            holding.set()
            time.sleep(0.6)
            released.set()    # inside: the lock's release (on PostgreSQL, more round trips) comes after

    holding = threading.Event()
    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(30)
    with store_lock(engine, wait_seconds=10):
        assert released.is_set()            # set inside the first holder's lock: this one waited for it
    thread.join()


def test_a_killed_holder_leaves_no_stale_lock(engine, database_url, tmp_path):
    script = ("import sys, time; from aclf.store import make_engine; from aclf.lock import store_lock\n"
              "with store_lock(make_engine(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, database_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy, match=SINCE):
            with store_lock(engine):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with store_lock(engine, wait_seconds=5):                   # the server or kernel released it
        pass
