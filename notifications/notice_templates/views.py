"""The account's notice templates (DESIGN.md flow 7): the list with the operator's
defaults, the editor, a preview for a real recipient, and a test send to oneself.

Everything here needs MANAGE_NOTICES: the preview names real exposed people. The
account's own templates go through the access gate (another account's is a 404); the
operator's defaults are readable by every account, to preview and copy, and editable
only in the operator's console.

The HTML body is shown in a sandboxed frame loaded from `template_frame`, not from
`srcdoc`: a srcdoc frame inherits this site's Content Security Policy, which blocks the
inline styles every mail HTML is made of. The frame's response gets a policy of its own
that allows those styles and nothing that runs.
"""

from typing import NamedTuple
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications.models import NoticeTemplate
from notifications.notice_templates import rendering, services
from notifications.notice_templates.forms import NoticeTemplateForm
from portal.accounts.gate import Member, account_view
from portal.accounts.roles import Capability
from portal.incidents.exposures.selectors import incidents_of_account

# The policy of the frame that shows a notice's HTML: its inline styles and pictures,
# nothing that runs, submits or navigates (and the frame's own sandbox on top).
FRAME_POLICY = {
    "default-src": [CSP.NONE],
    "style-src": [CSP.UNSAFE_INLINE],
    "img-src": ["https:", "data:"],
    "font-src": ["https:", "data:"],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.NONE],
    "frame-ancestors": [CSP.SELF],
    "sandbox": True,
}
NO_HTML_BODY = (
    '<p style="font-family:sans-serif;color:#57606a;">This template has no HTML body: '
    "recipients see the text body.</p>"
)


# Reads ----------------------------------------------------------------------------


def _lookup(queryset, public_id) -> NoticeTemplate:
    try:
        return queryset.get(public_id=public_id)
    except (NoticeTemplate.DoesNotExist, ValueError, ValidationError) as error:
        raise Http404("No such template.") from error


def _own(member: Member, public_id) -> NoticeTemplate:
    """One of the account's own templates, or 404 (a default is not the account's)."""
    return _lookup(member.scoped(NoticeTemplate), public_id)


def _readable(member: Member, public_id) -> NoticeTemplate:
    """One of the account's templates or an operator default, or 404."""
    return _lookup(
        NoticeTemplate.objects.filter(
            Q(organization=member.organization) | Q(organization__isnull=True)
        ).select_related("organization"),
        public_id,
    )


def templates_by_name(templates) -> list[tuple[str, list[NoticeTemplate]]]:
    """Templates by name (one notice), in the order given."""
    groups: dict[str, list[NoticeTemplate]] = {}
    for template in templates:
        groups.setdefault(template.name, []).append(template)
    return list(groups.items())


def _preview_for(request, member: Member, template: NoticeTemplate):
    """The preview the request asks for (?incident=&user=), defaulting to the newest
    incident and its first matched exposed person; with the choices to offer."""
    incidents = list(incidents_of_account(member.organization).order_by("-window_start", "-id"))
    wanted = request.GET.get("incident") or request.POST.get("incident") or ""
    incident = next((i for i in incidents if str(i.public_id) == wanted), None)
    if incident is None and incidents:
        incident = incidents[0]
    recipient = None
    choices: list[services.PreviewRecipient] = []
    if incident is not None:
        user = request.GET.get("user") or request.POST.get("user") or None
        recipient = services.preview_recipient(member.organization, incident, user)
        choices = services.preview_recipients(member.organization, incident)
        # The one asked for may be past the first hundred: offer it too.
        if recipient is not None and recipient.public_id not in {c.public_id for c in choices}:
            choices.insert(0, recipient)
    preview = services.notice_preview(
        template=template,
        organization=member.organization,
        incident=incident,
        recipient=recipient,
    )
    return preview, incidents, choices


def _preview_query(preview: services.NoticePreview) -> str:
    params = {}
    if preview.incident is not None:
        params["incident"] = str(preview.incident.public_id)
    if preview.recipient is not None:
        params["user"] = str(preview.recipient.public_id)
    return urlencode(params)


def _url(name: str, member: Member, template: NoticeTemplate | None = None) -> str:
    kwargs = {"org": member.organization.public_id}
    if template is not None:
        kwargs["template"] = template.public_id
    return reverse(f"notice_templates:{name}", kwargs=kwargs)


# Pages ----------------------------------------------------------------------------


@account_view(Capability.MANAGE_NOTICES)
@require_GET
def template_list(request, member: Member):
    own = member.scoped(NoticeTemplate).order_by("name", "language")
    defaults = NoticeTemplate.objects.filter(organization__isnull=True).order_by("name", "language")
    return render(
        request,
        "notifications/template_list.html",
        {
            "member": member,
            "organization": member.organization,
            "own_groups": templates_by_name(own),
            "default_groups": templates_by_name(defaults),
            "placeholders": rendering.PLACEHOLDERS,
            "zone": member.organization.zone,
        },
    )


def _editor(request, member: Member, form, *, template=None, status=200):
    return render(
        request,
        "notifications/template_form.html",
        {
            "member": member,
            "organization": member.organization,
            "form": form,
            "template": template,
            "placeholders": rendering.PLACEHOLDERS,
        },
        status=status,
    )


def form_errors_add(form, error: ValidationError) -> None:
    # The service checks again what the form checked; a race (two people saving the
    # same name and language) ends here, on the right field.
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class EditorPost(NamedTuple):
    form: NoticeTemplateForm
    saved: NoticeTemplate | None  # None: the form goes back with its errors
    changed: bool


def editor_post(request, *, organization, template: NoticeTemplate | None = None) -> EditorPost:
    """The one template editor's POST, for an account's template or, with no
    organization, an operator's default: a new one without `template`, else that
    one changed. The views say what follows and where to."""
    form = NoticeTemplateForm(request.POST, organization=organization, instance=template)
    if form.is_valid():
        try:
            if template is None:
                saved = services.notice_template_create(
                    organization=organization, **form.cleaned_data, by=request.user, request=request
                )
                return EditorPost(form, saved, True)
            changed = services.notice_template_update(
                template=template, **form.cleaned_data, by=request.user, request=request
            )
            return EditorPost(form, template, changed)
        except ValidationError as error:
            form_errors_add(form, error)
    return EditorPost(form, None, False)


def editor_initial(request, base: NoticeTemplate | None, *, keep_name: bool) -> dict:
    """What "add a language" and "start from" put in a new template's form: the
    base's text (the base stays as it is), and the name and language asked for."""
    initial = {}
    if base is not None:
        initial = {
            "name": base.name if keep_name else "",
            "subject": base.subject,
            "body_text": base.body_text,
            "body_html": base.body_html,
        }
    if request.GET.get("name"):
        initial["name"] = request.GET["name"]
    if request.GET.get("language") in services.LANGUAGE_NAMES:
        initial["language"] = request.GET["language"]
    return initial


@account_view(Capability.MANAGE_NOTICES)
@require_http_methods(["GET", "HEAD", "POST"])
def template_create(request, member: Member):
    if request.method == "POST":
        post = editor_post(request, organization=member.organization)
        if post.saved is not None:
            messages.success(
                request,
                _("Saved “%(name)s”. Preview it for a real recipient.") % {"name": post.saved},
            )
            return redirect(_url("preview", member, post.saved))
        return _editor(request, member, post.form, status=400)
    source = request.GET.get("from")
    base = _readable(member, source) if source else None
    initial = editor_initial(request, base, keep_name=bool(base and base.organization_id))
    return _editor(
        request, member, NoticeTemplateForm(initial=initial, organization=member.organization)
    )


@account_view(Capability.MANAGE_NOTICES)
@require_http_methods(["GET", "HEAD", "POST"])
def template_edit(request, member: Member, template):
    found = _own(member, template)
    if request.method == "POST":
        post = editor_post(request, organization=member.organization, template=found)
        if post.saved is not None:
            if post.changed:
                messages.success(request, _("Saved “%(name)s”.") % {"name": found})
            else:
                messages.info(request, _("Nothing changed."))
            return redirect(_url("preview", member, found))
        return _editor(request, member, post.form, template=found, status=400)
    form = NoticeTemplateForm(organization=member.organization, instance=found)
    return _editor(request, member, form, template=found)


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def template_delete(request, member: Member, template):
    found = _own(member, template)
    label = str(found)
    services.notice_template_delete(template=found, by=request.user, request=request)
    messages.success(request, _("Deleted “%(name)s”.") % {"name": label})
    return redirect(_url("list", member))


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def template_copy(request, member: Member, template):
    found = _readable(member, template)
    copy = services.notice_template_copy(
        template=found, organization=member.organization, by=request.user, request=request
    )
    messages.success(
        request,
        _("Copied “%(name)s” into your templates as “%(copy)s”, every language.")
        % {"name": found.name, "copy": copy.name},
    )
    return redirect(_url("edit", member, copy))


@account_view(Capability.MANAGE_NOTICES)
@never_cache
@require_GET
def template_preview(request, member: Member, template):
    found = _readable(member, template)
    preview, incidents, choices = _preview_for(request, member, found)
    query = _preview_query(preview)
    languages = list(
        NoticeTemplate.objects.filter(
            organization_id=found.organization_id, name=found.name
        ).order_by("language")
    )
    return render(
        request,
        "notifications/template_preview.html",
        {
            "member": member,
            "organization": member.organization,
            "template": found,
            "is_default": found.organization_id is None,
            "languages": languages,
            "preview": preview,
            "incidents": incidents,
            "choices": choices,
            "language_name": services.language_label(found.language),
            "recipient_gets_name": services.language_label(preview.recipient_gets),
            "frame_url": _url("frame", member, found) + (f"?{query}" if query else ""),
            "test_limit": services.TEST_SEND_LIMIT,
            "test_window_minutes": services.TEST_SEND_WINDOW // 60,
        },
    )


@account_view(Capability.MANAGE_NOTICES)
@never_cache
@xframe_options_sameorigin
@csp_override(FRAME_POLICY)
@require_GET
def template_frame(request, member: Member, template):
    found = _readable(member, template)
    preview, _incidents, _choices = _preview_for(request, member, found)
    return HttpResponse(preview.rendered.html or NO_HTML_BODY)


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def template_test_send(request, member: Member, template):
    found = _readable(member, template)
    preview, _incidents, _choices = _preview_for(request, member, found)
    try:
        services.notice_test_send(
            preview=preview, organization=member.organization, by=request.user, request=request
        )
    except services.NoticeTestSendRefusedError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Sent a test to %(email)s, and to no one else. Its subject starts with [Test].")
            % {"email": request.user.email},
        )
    query = _preview_query(preview)
    return redirect(_url("preview", member, found) + (f"?{query}" if query else ""))
