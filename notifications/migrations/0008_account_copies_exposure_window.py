"""Accounts' own copies of the default notice name the exposure window as the pages do
(issue 15 point 8), like the defaults since migration 0006: `{{ exposure_window }}`,
the provider's window with "(UTC)", instead of two dates without a zone.

A copy made before 0006 holds the words of 0003. Only a text or HTML body still equal,
word for word, to 0003's default in its language changes, to the default as 0006 left
it; a body the account edited is theirs, and stays as it is.
"""

import importlib

from django.db import migrations

_DEFAULTS = importlib.import_module("notifications.migrations.0003_default_templates")
_WINDOW = importlib.import_module("notifications.migrations.0006_default_notice_exposure_window")


def _bodies(language: str) -> dict[str, tuple[str, str]]:
    """body field -> (0003's words, the words since 0006) in `language`."""
    notice = _DEFAULTS.NOTICES[language]
    before, after = _WINDOW.PHRASES[language]
    old_text = _DEFAULTS.body_text(language, notice)
    old_html = _DEFAULTS.body_html(language, notice)
    return {
        "body_text": (old_text, old_text.replace(before, after)),
        "body_html": (old_html, old_html.replace(before, after)),
    }


def _replace(apps, *, forwards: bool) -> None:
    NoticeTemplate = apps.get_model("notifications", "NoticeTemplate")
    languages = sorted(set(_DEFAULTS.NOTICES) & set(_WINDOW.PHRASES))
    bodies = {language: _bodies(language) for language in languages}
    copies = NoticeTemplate.objects.filter(organization__isnull=False, language__in=languages)
    for template in copies.iterator():
        changed = []
        for name, (old, new) in bodies[template.language].items():
            if not forwards:
                old, new = new, old
            if old != new and getattr(template, name) == old:
                setattr(template, name, new)
                changed.append(name)
        if changed:
            template.save(update_fields=changed)


def forwards(apps, schema_editor):
    _replace(apps, forwards=True)


def backwards(apps, schema_editor):
    _replace(apps, forwards=False)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0007_report_zone")]

    operations = [migrations.RunPython(forwards, backwards)]
