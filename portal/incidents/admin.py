from django.contrib import admin
from django.db.models.constants import LOOKUP_SEP

from portal.incidents.models import (
    DirectoryImport,
    DirectoryPhone,
    DirectoryUser,
    Exposure,
    ImportBatch,
    Incident,
    MessageLogRecord,
)
from portal.incidents.phones_display import phone_masked


class PhonesMaskedAdmin(admin.ModelAdmin):
    """Phone numbers in the admin as the customer pages show them: masked.

    The operator has no audited reveal here, so there is no full number either: the
    fields that hold numbers are left out of the forms and shown masked, and no URL
    may filter on them. (The admin accepts a lookup on any field of its own model in
    the query string: `?phone__startswith=+1212555` would spell a number out digit by
    digit, as the exposed-users search once did.)
    """

    phone_fields: tuple[str, ...] = ()

    def get_exclude(self, request, obj=None):
        return (*(super().get_exclude(request, obj) or ()), *self.phone_fields)

    def lookup_allowed(self, lookup, value, request):
        if lookup.split(LOOKUP_SEP)[0] in self.phone_fields:
            return False  # the admin answers 400
        return super().lookup_allowed(lookup, value, request)


@admin.display(description="phone")
def _phone(obj) -> str:
    return phone_masked(obj.phone, getattr(obj, "country", ""))


def phones_masked(phones) -> str:
    return ", ".join(phone_masked(phone) for phone in phones or ())


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "provider", "status", "window_start", "window_end"]
    list_filter = ["status"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "incident",
        "format",
        "status",
        "seen",
        "imported",
        "rejected",
        "created_at",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["incident"]
    readonly_fields = [
        "sha256",
        "seen",
        "imported",
        "duplicate",
        "rejected",
        "unknown_account",
        "first_errors",
    ]


@admin.register(MessageLogRecord)
class MessageLogRecordAdmin(PhonesMaskedAdmin):
    # Millions of rows: no counting the whole table, no default ordering by an
    # unindexed column, and lookups by exact id only.
    list_display = [
        "provider_message_id",
        "organization",
        "sent_at",
        "message_type",
        _phone,
        "country",
        "carrier",
    ]
    phone_fields = ("phone",)
    readonly_fields = [_phone]
    list_select_related = ["organization"]
    search_fields = ["=provider_message_id"]
    show_full_result_count = False
    raw_id_fields = ["incident", "organization", "import_batch"]
    ordering = ["-id"]


class DirectoryPhoneInline(admin.TabularInline):
    """The person's numbers, masked and read-only: the directory import writes them."""

    model = DirectoryPhone
    extra = 0
    fields = readonly_fields = [_phone]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DirectoryUser)
class DirectoryUserAdmin(PhonesMaskedAdmin):
    list_display = ["username", "name", "organization", "language"]
    list_select_related = ["organization"]
    search_fields = ["username", "name"]
    inlines = [DirectoryPhoneInline]
    phone_fields = ("phones",)
    readonly_fields = ["phones_shown"]

    @admin.display(description="phones")
    def phones_shown(self, obj) -> str:
        return phones_masked(obj.phones)


@admin.register(Exposure)
class ExposureAdmin(PhonesMaskedAdmin):
    list_display = [
        "public_id",
        "organization",
        "incident",
        _phone,
        "country",
        "carrier",
        "message_count",
        "last_notified_at",
    ]
    list_filter = ["incident", "country"]
    list_select_related = ["organization", "incident"]
    show_full_result_count = False
    raw_id_fields = ["directory_user"]
    phone_fields = ("phone",)
    readonly_fields = [_phone]


@admin.register(DirectoryImport)
class DirectoryImportAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "organization",
        "status",
        "rows_total",
        "rows_rejected",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["organization"]
