"""`notices`: a vigilance-notice campaign through real Celery workers against a plain
smtplib loop sending the same messages, in the same run.

`rows` recipients (10,000 by default), each a directory user of one account with an
exposed phone and an email, in English, French or German in turn, get the notice of a
campaign with a text and an HTML body. A local SMTP server (aiosmtpd, in a process of
its own) accepts every message and counts the Message-IDs it saw.

- project: from queuing the dispatch to the campaign's `completed_at`: Celery workers
  (a subprocess, prefork, one process per core) make the delivery rows, fan out to a
  few sender tasks that claim batches with FOR UPDATE SKIP LOCKED, render each notice,
  send each batch over one SMTP connection and record each result, on PostgreSQL and a
  Redis broker of the benchmark's own.
- baseline: the same messages, rendered beforehand to the bytes the project sent,
  through one smtplib connection in a loop (`sendmail` per message). Run twice after
  the project; the faster counts (a busy machine must not flatter the project).

ratio = project messages/s / baseline messages/s; the goal is >= 0.6, with no more
than one Celery task per 100 recipients (`celery_tasks`, counted by the worker).
`time_split` says where the senders' seconds went, from the line each sender task logs
as it ends (notifications.delivery.sending.SenderSplit): claiming, rendering (text and bytes),
SMTP (waiting for the server), recording (results, leases, counters), hand-offs, and
the worker processes' time outside a sender while the campaign sent. The
account's rate limit is lifted for the run: it is a policy, not a speed. Needs
DATABASE_URL on PostgreSQL and the redis-server program; uses (and drops) a database
of its own, `vigil_bench_notices_<pid>`.
"""

import multiprocessing
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    BenchmarkError,
    Stopwatch,
    drop_database,
    fresh_database,
    peak_rss_mb,
    postgres_server_url,
    result,
)

DATABASE_NAME = "vigil_bench_notices"
DEFAULT_ROWS = 10_000
GOAL_RATIO = 0.6
BASE_DIR = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "fr", "de")
TEXT = """Hello {{ recipient_name }},

We are writing about {{ incident_title }}. Between {{ exposure_start }} and {{ exposure_end }}
an attacker copied the logs of the text messages and calls our provider delivered for
{{ account_name }}. {{ message_count }} of them went to your phone ending {{ phone_last_digits }}.
The logs hold phone numbers, dates and the kind of message; never what a message said.

What to expect: someone may call or write to you pretending to be IT, the help desk or
the security team, and ask for a code, a password, or to approve a sign-in request.

- Never read out or type a code you did not ask for.
- Never approve a push or a call you did not start yourself.
- When in doubt, hang up and call {{ contact_name }} on {{ contact_phone }}.

Tell us about anything suspicious: {{ report_link }}
Or write to {{ contact_email }}.

{{ contact_name }}, for {{ account_name }}
"""
HTML = (
    "<p>Hello {{ recipient_name }},</p><p>We are writing about <strong>{{ incident_title }}"
    "</strong>. {{ message_count }} messages to your phone ending {{ phone_last_digits }} "
    "were in logs an attacker copied. No message content was.</p><ul><li>Never share a code."
    '</li><li>Never approve a push you did not start.</li></ul><p><a href="{{ report_link }}">'
    "Report something suspicious</a> or write to {{ contact_email }}.</p>"
)


def run(rows: int = DEFAULT_ROWS) -> dict:
    postgres_server_url()  # refuses at once without PostgreSQL
    if not shutil.which("redis-server"):
        raise BenchmarkError("this benchmark needs the redis-server program (its own broker).")
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-notices-"))
    processes: list[subprocess.Popen] = []
    redis_port = _free_port()
    processes.append(_redis(redis_port, work))
    # Before Django is set up: the settings read them.
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    os.environ["VAR_DIR"] = str(work / "var")
    os.environ.setdefault("LOG_LEVEL", "warning")
    sink = _Sink()
    database = f"{DATABASE_NAME}_{os.getpid()}"
    try:
        url = fresh_database(database)
        return _measure(rows, url, sink, work, processes)
    finally:
        for process in reversed(processes):
            _stop(process)
        sink.stop()
        drop_database(database)
        shutil.rmtree(work, ignore_errors=True)


def _measure(rows, url, sink, work, processes) -> dict:
    from django.utils import timezone

    from notifications.delivery.tasks import campaigns_dispatch
    from notifications.models import Delivery, NoticeCampaign

    concurrency = int(os.environ.get("BENCH_NOTICE_WORKERS", os.cpu_count() or 2))
    campaign = _campaign(rows)
    worker = _worker(url, sink.port, concurrency, work)
    processes.append(worker)
    _wait_for_worker(worker)

    started = timezone.now()
    with Stopwatch() as wall:
        campaigns_dispatch.delay()
        deadline = time.monotonic() + max(300, rows / 20)
        while True:
            campaign.refresh_from_db()
            if campaign.status == NoticeCampaign.Status.COMPLETED:
                break
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"bench: the campaign did not complete ({campaign.status})")
            time.sleep(0.05)
    project_seconds = (campaign.completed_at - started).total_seconds()
    dispatch_seconds = (campaign.dispatched_at - started).total_seconds()
    tasks = _tasks_used()
    received = sink.ids()
    sent = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT).count()
    if sent != rows or len(set(received)) != rows:
        raise SystemExit(f"bench: {sent} sent, {len(set(received))} received of {rows}")
    _stop(worker)
    split = _time_split(work, processes=concurrency, seconds=project_seconds - dispatch_seconds)

    messages = _rendered(campaign)
    baselines = []
    for _ in range(2):
        sink.reset()
        baselines.append(_baseline(messages, sink.port))
        if len(sink.ids()) != rows:
            raise SystemExit("bench: the baseline lost messages")
    baseline_seconds = min(baselines)

    from django.conf import settings

    return result(
        "notices",
        rows / project_seconds,
        rows / baseline_seconds,
        "messages/s",
        goal_ratio=GOAL_RATIO,
        recipients=rows,
        celery_tasks=tasks["total"],
        celery_tasks_by_name=tasks["by_name"],
        max_celery_tasks=rows // 100,
        sink_messages=len(received),
        sink_duplicates=len(received) - len(set(received)),
        worker_processes=concurrency,
        batch_size=settings.NOTICE_BATCH_SIZE,
        senders_per_campaign=concurrency,
        project_seconds=round(project_seconds, 2),
        project_dispatch_seconds=round(dispatch_seconds, 2),
        project_wall_seconds=round(wall.seconds, 2),
        time_split=split,
        baseline_seconds=round(baseline_seconds, 2),
        baseline_seconds_runs=[round(seconds, 2) for seconds in baselines],
        message_bytes_mean=round(sum(len(m[2]) for m in messages) / len(messages)),
        **peak_rss_mb(),
    )


# --- The campaign -----------------------------------------------------------------


def _campaign(rows: int):
    from django.db import connection
    from django.utils import timezone

    from notifications.models import NoticeCampaign, NoticeTemplate
    from notifications.notice_templates import rendering
    from portal.accounts.models import Organization
    from portal.incidents.models import DirectoryUser, Exposure, Incident

    organization = Organization.objects.create(
        name="Acme Corp",
        account_id="DABENCHNOTE",
        contact_name="Sam Security",
        contact_email="security@acme.example",
        contact_phone="+1 212 555 0100",
        notice_sender_name="Acme Security",
        notice_rate_per_minute=1_000_000_000,  # a policy, not what is measured
    )
    incident = Incident.objects.create(
        slug="bench-notices",
        title="March 2024 SMS logs",
        provider="the telephony provider",
        window_start=datetime(2024, 3, 1, tzinfo=UTC),
        window_end=datetime(2024, 3, 31, tzinfo=UTC),
        status=Incident.Status.PUBLISHED,
    )
    templates = [
        NoticeTemplate.objects.create(
            organization=organization,
            name="Be vigilant",
            language=language,
            subject=f"[{language}] {{{{ incident_title }}}}: be vigilant",
            body_text=TEXT,
            body_html=HTML,
        )
        for language in LANGUAGES
    ]
    users = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                organization=organization,
                username=f"user{n:06d}",
                name=f"User {n}",
                email=f"user{n:06d}@acme.example",
                phones=[_phone(n)],
                language=LANGUAGES[n % len(LANGUAGES)],
            )
            for n in range(rows)
        ],
        batch_size=2000,
    )
    seen = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    Exposure.objects.bulk_create(
        [
            Exposure(
                organization=organization,
                incident=incident,
                phone=_phone(n),
                sms_count=3,
                voice_count=1,
                message_count=4,
                first_seen_at=seen,
                last_seen_at=seen,
                country="US",
                directory_user=user,
            )
            for n, user in enumerate(users)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        # The statistics a live database has: without them PostgreSQL plans the
        # audience query for empty tables (notifications.audience; see the README).
        cursor.execute("ANALYZE")
    now = timezone.now()
    return NoticeCampaign.objects.create(
        organization=organization,
        incident=incident,
        name="Benchmark",
        template=templates[0],
        audience=NoticeCampaign.Audience.ALL_MATCHED,
        template_snapshot=rendering.template_snapshot(templates[0]),
        contact_snapshot=rendering.contact_snapshot(organization),
        status=NoticeCampaign.Status.SCHEDULED,
        scheduled_at=now,
        launched_at=now,
    )


def _phone(n: int) -> str:
    return f"+1212{n:07d}"


def _rendered(campaign) -> list[tuple[str, list[str], bytes]]:
    """Each sent notice as the bytes the project sent (Django's SMTP backend builds
    them the same way), in delivery order."""
    import email.policy

    from notifications.delivery.sending import _notice_email
    from notifications.models import Delivery
    from notifications.notice_templates import rendering

    campaign = type(campaign).objects.select_related("organization", "incident").get(pk=campaign.pk)
    shared = rendering.campaign_context(
        organization=campaign.organization,
        incident=campaign.incident,
        contact=campaign.contact_snapshot,
    )
    messages = []
    for delivery in Delivery.objects.filter(campaign=campaign).order_by("pk").iterator():
        message = _notice_email(campaign, delivery, shared, rendering.message_id_for(delivery.pk))
        data = message.message(policy=email.policy.SMTP).as_bytes()
        messages.append(("vigil@localhost", [delivery.email], data))
    return messages


def _baseline(messages, port: int) -> float:
    with Stopwatch() as watch:
        connection = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=30)
        for sender, recipients, data in messages:
            connection.sendmail(sender, recipients, data)
        connection.quit()
    return watch.seconds


# --- Processes --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: nothing listens on port {port}")


def _redis(port: int, work: Path) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - a fixed argv
        [
            shutil.which("redis-server") or "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait_for_port(port)
    return process


def _worker(url: str, sink_port: int, concurrency: int, work: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_MODE": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink_port),
        "NOTICE_SENDERS": str(concurrency),
        # Each sender's turn logs where its time went (notifications.delivery.sending.SenderSplit).
        "LOG_LEVEL": "info",
    }
    return subprocess.Popen(  # noqa: S603 - our own python and module
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "portal",
            "worker",
            "--queues",
            "notices",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"bench-notices-{os.getpid()}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=_worker_log(work).open("w"),
    )


def _worker_log(work: Path) -> Path:
    return Path(os.environ.get("BENCH_NOTICE_WORKER_LOG", work / "worker.log"))


_SPLIT = re.compile(
    r"sender split: (?P<batches>\d+) batches, (?P<messages>\d+) messages in (?P<seconds>[\d.]+) s:"
    r" claiming (?P<claiming>[\d.]+), rendering (?P<rendering>[\d.]+), smtp (?P<smtp>[\d.]+),"
    r" recording (?P<recording>[\d.]+), hand-off (?P<hand_off>[\d.]+)"
)


def _time_split(work: Path, *, processes: int, seconds: float) -> dict:
    """Where the senders' seconds went, summed over every sender task the worker ran,
    from the line each logs as it ends; `between_tasks` is the worker processes' time
    in the sending phase spent outside a sender (queued hand-offs, idle at the end)."""
    totals: dict[str, float] = {}
    tasks = 0
    for match in _SPLIT.finditer(_worker_log(work).read_text(errors="replace")):
        tasks += 1
        for name, value in match.groupdict().items():
            totals[name] = totals.get(name, 0.0) + float(value)
    in_senders = totals.get("seconds", 0.0)
    return {
        "sender_tasks": tasks,
        "sender_seconds": round(in_senders, 2),
        **{
            f"{name}_seconds": round(totals.get(name, 0.0), 2)
            for name in ("claiming", "rendering", "smtp", "recording", "hand_off")
        },
        "between_tasks_seconds": round(max(0.0, processes * seconds - in_senders), 2),
    }


def _wait_for_worker(worker: subprocess.Popen, timeout: float = 60) -> None:
    from portal.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit("bench: the Celery worker stopped at start-up")
        if app.control.ping(timeout=0.5):
            return
    raise SystemExit("bench: the Celery worker did not answer")


def _tasks_used() -> dict:
    """What the worker ran, by task name (its own count since it started)."""
    from portal.celery import app

    stats = app.control.inspect(timeout=2).stats() or {}
    by_name: dict[str, int] = {}
    for worker in stats.values():
        for name, count in worker.get("total", {}).items():
            by_name[name] = by_name.get(name, 0) + count
    return {"total": sum(by_name.values()), "by_name": by_name}


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- The SMTP sink ----------------------------------------------------------------

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def _sink_main(port: int, ready, commands) -> None:
    """A local SMTP server that accepts everything and keeps each Message-ID."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            match = _MESSAGE_ID.search(envelope.content.split(b"\r\n\r\n", 1)[0])
            received.append(match.group(1) if match else b"")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.send("ready")
    while True:
        command = commands.recv()
        if command == "ids":
            commands.send([item.decode() for item in received])
        elif command == "reset":
            received.clear()
            commands.send("ok")
        else:
            controller.stop()
            commands.send("stopped")
            return


class _Sink:
    def __init__(self):
        self.port = _free_port()
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_sink_main, args=(self.port, child, child))
        self._process.start()
        if not self._pipe.poll(30):
            raise SystemExit("bench: the SMTP sink did not start")
        self._pipe.recv()

    def ids(self) -> list[str]:
        self._pipe.send("ids")
        return self._pipe.recv()

    def reset(self) -> None:
        self._pipe.send("reset")
        self._pipe.recv()

    def stop(self) -> None:
        if self._process.is_alive():
            self._pipe.send("stop")
            self._pipe.poll(10)
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
