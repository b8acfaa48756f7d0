"""The operator's default notice names the exposure window as every page writes it
(issue 15 point 8): `{{ exposure_window }}`, the provider's UTC window, instead of two
dates. Only defaults that still carry the words of migration 0003 change; an operator's
edit is left as it is."""

from django.db import migrations

# language -> (the words of 0003, the words now)
PHRASES = {
    "en": (
        "between {{ exposure_start }} and {{ exposure_end }}",
        "during {{ exposure_window }}",
    ),
    "fr": (
        "entre le {{ exposure_start }} et le {{ exposure_end }}",
        "pendant la période {{ exposure_window }}",
    ),
    "es": (
        "entre el {{ exposure_start }} y el {{ exposure_end }}",
        "durante el periodo {{ exposure_window }}",
    ),
    "de": (
        "zwischen dem {{ exposure_start }} und dem {{ exposure_end }}",
        "im Zeitraum {{ exposure_window }}",
    ),
}


def _replace(apps, *, forwards: bool) -> None:
    NoticeTemplate = apps.get_model("notifications", "NoticeTemplate")
    for template in NoticeTemplate.objects.filter(organization=None, language__in=PHRASES):
        old, new = PHRASES[template.language]
        if not forwards:
            old, new = new, old
        changed = [name for name in ("body_text", "body_html") if old in getattr(template, name)]
        for name in changed:
            setattr(template, name, getattr(template, name).replace(old, new))
        if changed:
            template.save(update_fields=changed)


def forwards(apps, schema_editor):
    _replace(apps, forwards=True)


def backwards(apps, schema_editor):
    _replace(apps, forwards=False)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0005_delivery_lease")]

    operations = [migrations.RunPython(forwards, backwards)]
