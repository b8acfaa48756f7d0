"""Leases on long work (issue 13): who runs a notice batch, a log copy or an import, and
until when.

A row being worked on carries `lease_owner` (this machine's name and the process id)
and `leased_until`, a short time ahead (LEASE). The running task renews it every
RENEW_EVERY seconds from a thread of its own (`LeaseKeeper`), so a slow step (an SMTP
server that takes its time, one long query) never lets it lapse while the task lives;
only a dead task, or one that lost its database, stops renewing it. Work whose lease
has lapsed is anyone's: the next sender, the sweep, or a worker starting up takes it
over at once. A worker starting up takes over, at once, the leases of processes on its
own machine that no longer exist (`owners_gone`), without waiting for them to lapse:
its own predecessor, killed a few seconds ago.

Owners are told apart by host name and process id, so two worker machines (or
containers) must not share a host name (they do not, by default).
"""

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)

# Short, so that work lost with its worker comes back in seconds; renewed six times
# over its length, so that a renewal or two lost to a busy database do not matter.
LEASE = timedelta(seconds=30)
RENEW_EVERY = 5.0


def lease_owner() -> str:
    """This process, as a lease names it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_until(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + LEASE


def lease_lapsed(now: datetime) -> Q:
    """Rows whose lease has lapsed (or that never had one)."""
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def owners_gone(owners: Iterable[str]) -> set[str]:
    """The owners among `owners` that ran on this machine and no longer exist. An owner
    on another machine, or one this process may not signal, counts as alive: its lease
    lapses on its own if it is not."""
    host = socket.gethostname()
    gone = set()
    for owner in owners:
        name, _, pid = (owner or "").rpartition(":")
        if name != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            gone.add(owner)
            continue
        except OSError:
            continue  # exists, but not ours to signal
        if _zombie(int(pid)):
            gone.add(owner)
    return gone


def _zombie(pid: int) -> bool:
    """True if the process has exited and waits to be reaped. A killed worker's pool
    process outlives its parent as a zombie until the machine's init reaps it: seen
    here for 1.4 s, forever under an init that reaps nothing. Signal 0 still reaches
    a zombie, so without this its successor, starting within that time, would wait
    for the lease to lapse. Linux's /proc only; elsewhere nothing is a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # "pid (name) state ...": the name may hold spaces and parentheses.
            return stat.read().rpartition(b")")[2].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


class LeaseKeeper:
    """Renews a lease every RENEW_EVERY seconds while the block runs, from a thread
    with its own database connection (Django's are per thread), so that the work in
    the block may block as long as it likes. `renew(until)` runs the conditional
    update and returns how many rows it still held; `lost` turns true when it held
    none (someone took the work over), which the work may check.

    A renewal that fails (the database went away) is tried again at the next tick; the
    lease lapses only if none gets through for LEASE."""

    def __init__(self, renew: Callable[[datetime], int], *, name: str = "lease"):
        self.renew = renew
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(RENEW_EVERY):
                try:
                    if self.renew(lease_until()) == 0:
                        self.lost = True
                except DatabaseError as error:
                    logger.warning("lease: renewal failed (%s); next try", type(error).__name__)
                    connection.close()
        finally:
            connection.close()
