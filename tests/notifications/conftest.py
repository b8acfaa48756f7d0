"""What the notices engine's tests share."""

import pytest

from tests.notifications.smtp_sink import SmtpSink


@pytest.fixture
def sink(settings):
    """A local SMTP server every mailer sends to, with batches of 100."""
    server = SmtpSink().start()
    settings.MAILERS = {"default": server.mailer()}
    settings.NOTICE_BATCH_SIZE = 100
    yield server
    server.stop()
