"""Short-lived download links for log copies (DESIGN.md flow 6).

A link is good for one person and one copy for a few minutes. It proves nothing about
membership: the download view passes the access gate and asks the capability again,
so a member removed or demoted after the link was made gets no file.
"""

from datetime import timedelta

from django.core import signing

SALT = "vigil.logcopy.download"
# Long enough to survive a slow browser and a re-authentication page, short enough that
# a link copied into a chat or a ticket is dead before anyone else can use it.
MAX_AGE = timedelta(minutes=5)


class DownloadLinkInvalid(Exception):  # noqa: N818 (the name the brief and callers use)
    """The token is not ours, was altered, or names another copy or person."""


class DownloadLinkExpired(Exception):  # noqa: N818
    """The token is genuine but older than MAX_AGE."""


def _signer(salt: str = SALT) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=salt)


def _token_make(*, salt: str, kind: str, public_id, user=None) -> str:
    payload = {kind: str(public_id)}
    if user is not None:
        payload["user"] = user.pk
    return _signer(salt).sign_object(payload, compress=False)


def _token_check(*, salt: str, kind: str, token: str, public_id, user=None) -> None:
    try:
        payload = _signer(salt).unsign_object(token, max_age=MAX_AGE)
    except signing.SignatureExpired as error:
        raise DownloadLinkExpired from error
    except (signing.BadSignature, ValueError) as error:
        raise DownloadLinkInvalid from error
    if not isinstance(payload, dict):
        raise DownloadLinkInvalid
    if payload.get(kind) != str(public_id):
        raise DownloadLinkInvalid
    if payload.get("user") != (user.pk if user is not None else None):
        raise DownloadLinkInvalid


def download_token_make(*, copy, user) -> str:
    return _token_make(salt=SALT, kind="copy", public_id=copy.public_id, user=user)


def download_token_check(*, token: str, copy, user) -> None:
    _token_check(salt=SALT, kind="copy", token=token, public_id=copy.public_id, user=user)


# The same links for exports of exposed users (portal/logcopies/exposure_exports.py),
# under a salt of their own: a copy's token never opens an export, nor the reverse.
EXPORT_SALT = "vigil.exposure-export.download"


def export_token_make(*, export, user) -> str:
    return _token_make(salt=EXPORT_SALT, kind="export", public_id=export.public_id, user=user)


def export_token_check(*, token: str, export, user) -> None:
    _token_check(
        salt=EXPORT_SALT, kind="export", token=token, public_id=export.public_id, user=user
    )


# The API's links (portal/api/routers/logcopies.py) name one copy, under a salt of
# their own: a member's link never opens through the API, nor the reverse. A link is
# no credential: its GET needs a key of the copy's account holding the download
# capability, checked again then (not revoked, not expired, the capability still held).
API_SALT = "vigil.logcopy.api-download"


def api_download_token_make(*, copy) -> str:
    return _token_make(salt=API_SALT, kind="copy", public_id=copy.public_id)


def api_download_token_check(*, token: str, copy) -> None:
    _token_check(salt=API_SALT, kind="copy", token=token, public_id=copy.public_id)
