"""Scheduled emails: customer notice on publish, daily reminder, weekly summary (issue 6)."""


def scheduled_emails_send_due() -> int:
    return 0
