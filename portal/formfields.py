"""One form field as Bootstrap 5 markup, written in Python: `{{ form.q|field }}`.

The filter forms above the busiest pages (exposed users, audit logs) went through
django-crispy-forms' `as_crispy_field`, a dozen nested templates per field: some 1.5 ms a
field, more than the page's rows. This writes the same markup crispy-bootstrap5 does for
the widgets those forms use (text, search, date, select): the wrapper `div_id_<name>`,
the label, the widget with `form-control` or `form-select` (and `is-invalid`), the errors
in `<id>_error` and the help text in `<id>_helptext`, which the widget's
`aria-describedby` names (Django adds it, and `aria-invalid`).

A template library registered in settings (TEMPLATES' `libraries`): `{% load vigil_fields %}`.
"""

import html

from django import forms, template
from django.forms.utils import flatatt
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()
_CLOSE = mark_safe("</div>")


def _options(choices, chosen: str) -> str:
    return "".join(
        f'<option value="{html.escape(str(choice))}"'
        f"{' selected' if str(choice) == chosen else ''}>{html.escape(str(label))}</option>"
        for choice, label in choices
    )


class QuickSelect(forms.Select):
    """A <select> rendered in one pass. Django renders every <option> through a
    template, some 40 µs each; the region and carrier lists of a large account have
    a hundred or more, and an audit log's actions some fifty, which made the selects
    cost more than the page of results. Groups (`(label, [(value, label), ...])`)
    become `<optgroup>`s, as Django's Select renders them."""

    def render(self, name, value, attrs=None, renderer=None):
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        chosen = "" if value is None else str(value)
        options = "".join(
            f'<optgroup label="{html.escape(str(choice))}">{_options(label, chosen)}</optgroup>'
            if isinstance(label, list | tuple)
            else _options([(choice, label)], chosen)
            for choice, label in self.choices
        )
        attributes = flatatt(self.build_attrs(self.attrs, attrs))
        # Every value above is escaped; flatatt escapes the attributes.
        return mark_safe(f'<select name="{html.escape(name)}"{attributes}>{options}</select>')  # noqa: S308


@register.filter
def field(bound: forms.BoundField) -> SafeString:
    """The field, its label, errors and help text, as crispy-bootstrap5 lays them out."""
    widget = bound.field.widget
    kind = type(widget).__name__.lower()
    is_select = isinstance(widget, forms.Select)
    classes = [widget.attrs.get("class", ""), kind, "form-select" if is_select else "form-control"]
    errors = bound.errors
    if errors:
        classes.append("is-invalid")
    html_class = " ".join(dict.fromkeys(" ".join(classes).split()))
    auto_id = bound.auto_id
    parts = [format_html('<div id="div_{}" class="mb-3">', auto_id)]
    if bound.label:
        required = bound.field.required
        parts.append(
            format_html(
                '<label for="{}" class="form-label{}">{}{}</label>',
                bound.id_for_label,
                " requiredField" if required else "",
                bound.label,
                mark_safe('<span class="asteriskField">*</span>') if required else "",
            )
        )
    parts.append(bound.as_widget(attrs={"class": html_class}))
    if errors:
        parts.append(format_html('<div id="{}_error" class="invalid-feedback">', auto_id))
        parts.extend(
            format_html('<p id="error_{}_{}"><strong>{}</strong></p>', number, auto_id, error)
            for number, error in enumerate(errors, start=1)
        )
        parts.append(_CLOSE)
    if bound.help_text:
        # Help text is the form's own words, trusted as crispy trusts it (`|safe`).
        parts.append(
            format_html(
                '<div id="{}_helptext" class="form-text">{}</div>',
                auto_id,
                mark_safe(bound.help_text),  # noqa: S308
            )
        )
    parts.append(_CLOSE)
    return mark_safe("".join(conditional_escape(part) for part in parts))  # noqa: S308
