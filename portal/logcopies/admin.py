from django.contrib import admin

from portal.incidents.admin import PhonesMaskedAdmin, phones_masked
from portal.logcopies.models import LogCopyRequest


@admin.register(LogCopyRequest)
class LogCopyRequestAdmin(PhonesMaskedAdmin):
    list_display = [
        "public_id",
        "organization",
        "incident",
        "format",
        "status",
        "rows",
        "created_at",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["organization", "incident"]
    readonly_fields = [
        "sha256",
        "size",
        "rows",
        "generated_at",
        "download_count",
        "scope_phones_shown",
    ]
    phone_fields = ("scope_phones",)

    @admin.display(description="scope phones")
    def scope_phones_shown(self, obj) -> str:
        return phones_masked(obj.scope_phones)
