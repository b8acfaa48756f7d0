"""The operator console's default notice templates (DESIGN.md flow 7): staff list,
add, edit and delete the defaults every account starts from, with the same form and
checks as the accounts' own. Staff only (`staff_view`); 404 for anyone else.

A default has no account, so its preview uses made-up values; accounts preview it for
their own people on their own pages.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from notifications.models import NoticeTemplate
from notifications.notice_templates import rendering, services
from notifications.notice_templates.forms import NoticeTemplateForm
from notifications.notice_templates.views import (
    FRAME_POLICY,
    NO_HTML_BODY,
    editor_initial,
    editor_post,
    templates_by_name,
)
from portal.accounts.gate import staff_view


def _default_or_404(public_id) -> NoticeTemplate:
    try:
        return NoticeTemplate.objects.get(organization__isnull=True, public_id=public_id)
    except (NoticeTemplate.DoesNotExist, ValueError, ValidationError) as error:
        raise Http404("No such default template.") from error


def _edit_url(template: NoticeTemplate) -> str:
    return reverse("operator_notices:edit", kwargs={"default_template": template.public_id})


def _editor(request, form, *, template=None, status=200):
    context = {"form": form, "template": template, "placeholders": rendering.PLACEHOLDERS}
    if template is not None:
        context["preview"] = services.notice_preview(template=template, organization=None)
        context["frame_url"] = reverse(
            "operator_notices:frame", kwargs={"default_template": template.public_id}
        )
    return render(request, "operator/notices/form.html", context, status=status)


@staff_view
@require_safe
def template_list(request):
    defaults = NoticeTemplate.objects.filter(organization__isnull=True).order_by("name", "language")
    return render(
        request,
        "operator/notices/list.html",
        {"groups": templates_by_name(defaults), "accounts_templates": _accounts_templates()},
    )


def _accounts_templates() -> int:
    return NoticeTemplate.objects.filter(organization__isnull=False).count()


@staff_view
@require_http_methods(["GET", "HEAD", "POST"])
def template_create(request):
    if request.method == "POST":
        post = editor_post(request, organization=None)
        if post.saved is not None:
            messages.success(request, _("Saved the default “%(name)s”.") % {"name": post.saved})
            return redirect(_edit_url(post.saved))
        return _editor(request, post.form, status=400)
    source = request.GET.get("from")
    initial = editor_initial(request, _default_or_404(source) if source else None, keep_name=True)
    return _editor(request, NoticeTemplateForm(initial=initial, organization=None))


@staff_view
@require_http_methods(["GET", "HEAD", "POST"])
def template_edit(request, default_template):
    found = _default_or_404(default_template)
    if request.method == "POST":
        post = editor_post(request, organization=None, template=found)
        if post.saved is not None:
            if post.changed:
                messages.success(request, _("Saved the default “%(name)s”.") % {"name": found})
            else:
                messages.info(request, _("Nothing changed."))
            return redirect(_edit_url(found))
        return _editor(request, post.form, template=found, status=400)
    return _editor(request, NoticeTemplateForm(organization=None, instance=found), template=found)


@staff_view
@require_POST
def template_delete(request, default_template):
    found = _default_or_404(default_template)
    label = str(found)
    services.notice_template_delete(template=found, by=request.user, request=request)
    messages.success(request, _("Deleted the default “%(name)s”.") % {"name": label})
    return redirect(reverse("operator_notices:list"))


@staff_view
@never_cache
@xframe_options_sameorigin
@csp_override(FRAME_POLICY)
@require_GET
def template_frame(request, default_template):
    found = _default_or_404(default_template)
    preview = services.notice_preview(template=found, organization=None)
    return HttpResponse(preview.rendered.html or NO_HTML_BODY)
