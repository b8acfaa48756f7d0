"""How audit events read to a person: action labels and details without secrets.

Services choose what goes into `details`, and they are asked never to put a secret or a
full phone number there. The log is append-only, so a mistake could never be fixed in
the rows; it is fixed here instead, on the way out to every page and export.
"""

import json
import re
from typing import Any

from django.apps import apps

# Actions without a label here show as their raw name: a new action is readable the
# day it ships, and gets a label when someone adds it.
ACTION_LABELS: dict[str, str] = {
    "signin.success": "Signed in",
    "signin.failure": "Failed sign-in",
    "signin.mfa_failed": "Wrong second-factor code",
    "signin.lockout": "Sign-in locked out",
    "signin.logout": "Signed out",
    "mfa.factor_added": "Added a second factor",
    "mfa.factor_removed": "Removed a second factor",
    "mfa.factor_reset": "Reset recovery codes",
    "audit.export": "Exported the audit log",
    "phone.reveal": "Revealed a phone number",
    "logcopy.request": "Requested a log copy",
    "logcopy.approve": "Approved a log copy",
    "logcopy.reject": "Rejected a log copy",
    "logcopy.download": "Downloaded a log copy",
    "logcopy.expire": "Log copy expired",
    "logcopy.policy": "Changed an account's log-copy approval policy",
    "logcopy.retry": "Retried a log copy",
    "logcopy.ready": "Log copy ready",
    "logcopy.fail": "A log copy failed",
    "directory.import": "Imported the user directory",
    "notice.test_send": "Sent a test notice to themself",
    "notice.template_create": "Created a notice template",
    "notice.template_update": "Edited a notice template",
    "notice.template_delete": "Deleted a notice template",
    "notice.template_copy": "Copied a notice template into the account",
    "notice.launch": "Launched a vigilance notice",
    "notice.pause": "Paused a vigilance notice",
    "notice.resume": "Resumed a vigilance notice",
    "notice.cancel": "Cancelled a vigilance notice",
    "notice.retry": "Retried a vigilance notice's failed emails",
    "invitation.create": "Invited a member",
    "invitation.revoke": "Withdrew an invitation",
    "member.role_change": "Changed a member's role",
    "member.remove": "Removed a member",
    "invitation.accept": "Accepted an invitation",
    "account.settings": "Changed account settings",
    "report.filed": "A user reported a suspicious contact",
    "report.triage": "Triaged a suspicion report",
    "incident.create": "Created an incident",
    "incident.update": "Edited an incident",
    "incident.publish": "Published an incident",
    "incident.close": "Closed an incident",
    "import.upload": "Uploaded a log dump",
    "import.completed": "Imported a log dump",
    "import.failed": "A log import failed",
    "import.errors_download": "Downloaded an import error report",
    "import.retry": "Retried a log import",
    "import.held": "A log import was held: too many rows rejected",
    "import.accept_problems": "Published a held log import despite its rejected rows",
    "import.discard": "Discarded a held log import",
    "exposure.export": "Exported exposed users",
}

HIDDEN = "[hidden]"
# Key names whose values are secrets whatever they look like.
_SECRET_KEY_PARTS = ("secret", "password", "passwd", "token", "passcode", "otp", "recovery")
_SECRET_KEYS = {"code", "key", "api_key", "signature"}
# A phone number however it was written: E.164 as the portal stores it, or digits as
# people type them, bare or with the usual separators ("2125550143", "212-555-0143",
# "(212) 555 0143"). Never inside a word or a hyphenated id (a UUID's all-digit group).
_PHONE_LIKE = re.compile(r"(?<![\w-])\+?\(?\d[\d ().-]*\d(?![\w-])")
# Digits that make a number worth hiding: the shortest real numbers with their country
# code have seven. A search by the last four digits (what every mask shows) stays.
_PHONE_MIN_DIGITS = 7
# Digit runs that are not phone numbers: dates and times, and IPv4 addresses.
_NOT_A_PHONE = re.compile(r"\d{4}-\d{2}-\d{2}.*|\d{1,3}(\.\d{1,3}){3}")


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def target_kind(target_type: str) -> str:
    """ "incidents.incident" as a person says it: "incident"."""
    if not target_type:
        return ""
    try:
        return str(apps.get_model(target_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return target_type


def _is_secret_key(key: str) -> bool:
    key = key.lower()
    return key in _SECRET_KEYS or any(part in key for part in _SECRET_KEY_PARTS)


def _last_digits(phone: str) -> str:
    if phone.startswith("***"):  # already cut, when the event was written
        return phone
    digits = re.sub(r"\D", "", phone)
    return f"***{digits[-4:]}" if len(digits) > 4 else "***"


def _phone_cut(match: re.Match) -> str:
    text = match.group()
    digits = sum(character.isdigit() for character in text)
    if digits < _PHONE_MIN_DIGITS or _NOT_A_PHONE.fullmatch(text):
        return text
    return _last_digits(text)


def _redact(value: Any, *, phone: bool = False) -> Any:
    if isinstance(value, dict):
        return {
            str(key): HIDDEN
            if _is_secret_key(str(key))
            else _redact(item, phone=phone or "phone" in str(key).lower())
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item, phone=phone) for item in value]
    if isinstance(value, str):
        if phone:
            return _last_digits(value)
        return _PHONE_LIKE.sub(_phone_cut, value)
    if phone and isinstance(value, int) and not isinstance(value, bool):
        return _last_digits(str(value))
    return value


def details_redacted(details: Any) -> dict:
    """The details with secrets hidden and phone numbers cut to their last digits."""
    if not isinstance(details, dict):
        return {"value": _redact(details)} if details not in (None, "") else {}
    return _redact(details)


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or value in ({}, []):
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_compact(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_compact(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def details_pairs(details: Any) -> list[tuple[str, str]]:
    """(key, value) pairs to show in a row; nested values flattened to one line."""
    return [(key, _compact(value)) for key, value in details_redacted(details).items()]


def details_json(details: Any) -> str:
    """One cell for an export: the redacted details as JSON, keys sorted."""
    redacted = details_redacted(details)
    if not redacted:
        return ""
    return json.dumps(redacted, ensure_ascii=False, sort_keys=True, default=str)
