"""Why a row (or a file) was not imported, kept in a form any language can show later.

The import runs in a Celery worker, in no one's language, and its reasons are read
later by operators who each chose theirs. So a reason is made of its untranslated
message (the msgid, marked with gettext_noop for makemessages) and its parameters: it
is English text where text is needed (the CSV error report, the logs, grouping), and
its `as_data()` is what the batch stores, for `reason_text()` to translate in the
viewer's language at display time. A parameter may itself be a Reason ("phone
"…•0143" is too short for US": the phone's problem inside the phone's sentence).

Rows stored before reasons carried their msgid hold English text only: `reason_text()`
shows that text as it is.

Convention for msgids: a value copied from the file goes in straight double quotes,
`"%(value)s"`. Grouping takes those values out (two rows with different bad dates are
one kind of problem), and the stored group blanks them ("…").
"""

import re
from typing import Any

from django.utils.translation import gettext

_QUOTED_PARAM = re.compile(r'"%\((\w+)\)s"')
_QUOTED = re.compile(r'"[^"]*"')
BLANK = "…"


class Reason(str):
    """English text that remembers its msgid and parameters."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> "Reason":
        text = msgid % params if params else msgid
        reason = super().__new__(cls, text)
        reason.msgid = msgid
        reason.params = params
        return reason

    def __reduce__(self):
        # Pickled (Celery, caches) as what it is, not as a plain str.
        return (_reason_rebuilt, (self.msgid, self.params))

    def translated(self) -> str:
        """The reason in the active language."""
        return reason_text(self.as_data())

    def as_data(self, *, blank_quoted: bool = False) -> dict[str, Any]:
        """{"msgid", "params"} for a JSON field; `blank_quoted` replaces the values
        copied from the file with "…" (a group stands for many rows)."""
        quoted = set(_QUOTED_PARAM.findall(self.msgid)) if blank_quoted else set()
        params: dict[str, Any] = {}
        for name, value in self.params.items():
            if isinstance(value, Reason):
                params[name] = value.as_data(blank_quoted=blank_quoted)
            elif name in quoted:
                params[name] = BLANK
            else:
                params[name] = value if isinstance(value, int | float) else str(value)
        return {"msgid": self.msgid, "params": params}


def _reason_rebuilt(msgid: str, params: dict[str, Any]) -> Reason:
    return Reason(msgid, **params)


def reason_data(reason: str, *, blank_quoted: bool = False) -> dict[str, Any]:
    """What to store for `reason`: its msgid and parameters when it has them (a Reason),
    else only its text."""
    if isinstance(reason, Reason):
        return reason.as_data(blank_quoted=blank_quoted)
    return {"text": _QUOTED.sub(f"“{BLANK}”", reason) if blank_quoted else str(reason)}


def reason_text(stored: Any) -> str:
    """A stored reason in the active language.

    `stored` is what `reason_data` made ({"msgid", "params"}), or a stored row or group
    of the batch page ({"reason": English text, "msgid", "params"}: rows imported before
    reasons kept their msgid have the text only, shown as it is), a Reason, or plain
    text.
    """
    if isinstance(stored, Reason):
        return stored.translated()
    if isinstance(stored, str):
        return stored
    if not isinstance(stored, dict):
        return "" if stored is None else str(stored)
    msgid = stored.get("msgid")
    if not isinstance(msgid, str) or not msgid:
        return str(stored.get("reason", stored.get("text", "")))
    params = stored.get("params") or {}
    translated = gettext(msgid)
    if not params:
        return translated
    values = {
        name: reason_text(value) if isinstance(value, dict) else value
        for name, value in params.items()
    }
    try:
        text = translated % values
    except (KeyError, TypeError, ValueError):
        # A catalogue that lost a placeholder must not take the batch page down.
        text = msgid % values
    # A group's blanked value, as the page has always shown it.
    return text.replace(f'"{BLANK}"', f"“{BLANK}”")
