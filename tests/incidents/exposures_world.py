"""What the dashboard and exposed-users tests share: exposures as the import makes
them, moments in March 2024, and the pages' addresses."""

from datetime import UTC, datetime

from tests import factories


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def exposure(inc, org, phone: str, *, sms: int = 1, voice: int = 0, **fields):
    """An exposure whose counts add up, as the import makes them."""
    return factories.exposure(
        inc,
        org,
        phone=phone,
        sms_count=sms,
        voice_count=voice,
        message_count=sms + voice,
        **fields,
    )


def dashboard_url(org, inc) -> str:
    return f"/o/{org.public_id}/incidents/{inc.public_id}/"


def exposed_url(org, inc) -> str:
    return f"/o/{org.public_id}/incidents/{inc.public_id}/exposed/"


def export_url(org, inc) -> str:
    return f"/o/{org.public_id}/incidents/{inc.public_id}/exposed/export.csv"


def detail_url(org, inc, found) -> str:
    return f"/o/{org.public_id}/incidents/{inc.public_id}/exposed/{found.public_id}/"


def reveal_url(org, inc, found) -> str:
    return detail_url(org, inc, found) + "reveal/"


def unmatched_url(org, inc) -> str:
    return f"/o/{org.public_id}/incidents/{inc.public_id}/unmatched/"
