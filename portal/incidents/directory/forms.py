from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from portal.incidents.directory.csvfile import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_LABEL,
    too_large_message,
)


class DirectoryUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Directory file (CSV)"),
        help_text=format_lazy(
            _(
                "UTF-8, comma or tab separated, up to {size}. "
                "Nothing changes until you check the preview and apply it."
            ),
            size=MAX_UPLOAD_LABEL,
        ),
        widget=forms.FileInput(
            attrs={"accept": ".csv,.tsv,.txt,text/csv,text/tab-separated-values,text/plain"}
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refused before anything reads it; the service checks again as it streams.
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_large_message(upload.size))
        return upload
