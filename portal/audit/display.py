"""How audit events read to a person: action labels and details without secrets.

Services choose what goes into `details`, and they are asked never to put a secret or a
full phone number there. The log is append-only, so a mistake could never be fixed in
the rows; it is fixed here instead, on the way out to every page and export.
"""

import json
import re
from typing import Any

from django.apps import apps
from django.utils.translation import gettext_lazy

# Actions without a label here show as their raw name: a new action is readable the
# day it ships, and gets a label when someone adds it.
ACTION_LABELS: dict[str, Any] = {
    "signin.success": gettext_lazy("Signed in"),
    "signin.failure": gettext_lazy("Failed sign-in"),
    "signin.mfa_failed": gettext_lazy("Wrong second-factor code"),
    "signin.lockout": gettext_lazy("Sign-in locked out"),
    "signin.logout": gettext_lazy("Signed out"),
    "mfa.factor_added": gettext_lazy("Added a second factor"),
    "mfa.factor_removed": gettext_lazy("Removed a second factor"),
    "mfa.factor_reset": gettext_lazy("Reset recovery codes"),
    "audit.export": gettext_lazy("Exported the audit log"),
    "phone.reveal": gettext_lazy("Revealed a phone number"),
    "logcopy.request": gettext_lazy("Requested a log copy"),
    "logcopy.approve": gettext_lazy("Approved a log copy"),
    "logcopy.reject": gettext_lazy("Rejected a log copy"),
    "logcopy.download": gettext_lazy("Downloaded a log copy"),
    "logcopy.expire": gettext_lazy("Log copy expired"),
    "logcopy.policy": gettext_lazy("Changed an account's log-copy approval policy"),
    "logcopy.retry": gettext_lazy("Retried a log copy"),
    "logcopy.ready": gettext_lazy("Log copy ready"),
    "logcopy.fail": gettext_lazy("A log copy failed"),
    "directory.import": gettext_lazy("Imported the user directory"),
    "notice.test_send": gettext_lazy("Sent a test notice to themself"),
    "notice.template_create": gettext_lazy("Created a notice template"),
    "notice.template_update": gettext_lazy("Edited a notice template"),
    "notice.template_delete": gettext_lazy("Deleted a notice template"),
    "notice.template_copy": gettext_lazy("Copied a notice template into the account"),
    "notice.launch": gettext_lazy("Launched a vigilance notice"),
    "notice.pause": gettext_lazy("Paused a vigilance notice"),
    "notice.resume": gettext_lazy("Resumed a vigilance notice"),
    "notice.cancel": gettext_lazy("Cancelled a vigilance notice"),
    "notice.retry": gettext_lazy("Retried a vigilance notice's failed emails"),
    "invitation.create": gettext_lazy("Invited a member"),
    "invitation.revoke": gettext_lazy("Withdrew an invitation"),
    "member.role_change": gettext_lazy("Changed a member's role"),
    "member.remove": gettext_lazy("Removed a member"),
    "invitation.accept": gettext_lazy("Accepted an invitation"),
    "account.settings": gettext_lazy("Changed account settings"),
    "report.filed": gettext_lazy("A user reported a suspicious contact"),
    "report.triage": gettext_lazy("Triaged a suspicion report"),
    "incident.create": gettext_lazy("Created an incident"),
    "incident.update": gettext_lazy("Edited an incident"),
    "incident.publish": gettext_lazy("Published an incident"),
    "incident.close": gettext_lazy("Closed an incident"),
    "import.upload": gettext_lazy("Uploaded a log dump"),
    "import.completed": gettext_lazy("Imported a log dump"),
    "import.failed": gettext_lazy("A log import failed"),
    "import.errors_download": gettext_lazy("Downloaded an import error report"),
    "import.retry": gettext_lazy("Retried a log import"),
    "import.held": gettext_lazy("A log import was held: too many rows rejected"),
    "import.accept_problems": gettext_lazy("Published a held log import despite its rejected rows"),
    "import.discard": gettext_lazy("Discarded a held log import"),
    "exposure.export": gettext_lazy("Exported exposed users"),
    "api_key.create": gettext_lazy("Made an API key"),
    "api_key.revoke": gettext_lazy("Revoked an API key"),
    "api.call": gettext_lazy("Called the API"),
    "api.refused": gettext_lazy("An API call was refused"),
    "webhook.create": gettext_lazy("Added a webhook endpoint"),
    "webhook.update": gettext_lazy("Changed a webhook endpoint"),
    "webhook.rotate": gettext_lazy("Replaced a webhook endpoint's secret"),
    "webhook.delete": gettext_lazy("Deleted a webhook endpoint"),
    "webhook.test": gettext_lazy("Sent a test webhook event"),
    "webhook.replay": gettext_lazy("Replayed a webhook delivery"),
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
    return str(ACTION_LABELS.get(action, action))


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
