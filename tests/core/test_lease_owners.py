"""Whose leases a worker starting up takes over at once (portal/leases.py): processes
of this machine that are gone, zombies included. A killed worker's pool process stays a
zombie until init reaps it (1.4 s on these machines, never under an init that reaps
nothing); its successor must not wait for the lease to lapse meanwhile."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from portal.leases import owners_gone

HOST = socket.gethostname()


def test_a_live_process_keeps_its_lease_and_a_finished_one_loses_it():
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()

    gone = owners_gone([f"{HOST}:{os.getpid()}", f"{HOST}:{finished.pid}"])

    assert gone == {f"{HOST}:{finished.pid}"}


def test_another_machines_process_is_never_taken_for_gone():
    assert owners_gone([f"elsewhere-{HOST}:1", "no-pid-at-all"]) == set()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="zombies are read from Linux's /proc")
def test_a_killed_process_not_yet_reaped_is_gone():
    # A child this test does not wait for: after SIGKILL it is a zombie until reaped.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{child.pid}/stat", "rb") as stat:
                if stat.read().rpartition(b")")[2].split()[0] == b"Z":
                    break
            time.sleep(0.01)
        os.kill(child.pid, 0)  # signal 0 still reaches it

        assert owners_gone([f"{HOST}:{child.pid}"]) == {f"{HOST}:{child.pid}"}
    finally:
        child.wait()
