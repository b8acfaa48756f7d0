from django.contrib import admin

from notifications.models import (
    Delivery,
    NoticeCampaign,
    NoticeTemplate,
    ScheduledEmail,
    SuspicionReport,
)


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "organization", "updated_at"]
    list_filter = ["language"]
    list_select_related = ["organization"]


@admin.register(NoticeCampaign)
class NoticeCampaignAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "organization",
        "incident",
        "status",
        "recipients_total",
        "sent_count",
        "failed_count",
    ]
    list_filter = ["status"]
    list_select_related = ["organization", "incident"]
    raw_id_fields = ["chosen_users"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["campaign"]
    raw_id_fields = ["campaign", "organization", "directory_user", "exposure"]
    show_full_result_count = False


@admin.register(SuspicionReport)
class SuspicionReportAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organization", "channel", "occurred_at", "status"]
    list_filter = ["status", "channel"]
    list_select_related = ["organization"]


@admin.register(ScheduledEmail)
class ScheduledEmailAdmin(admin.ModelAdmin):
    list_display = ["kind", "key", "organization", "status", "attempts", "sent_at", "created_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["organization"]
    search_fields = ["key"]
    readonly_fields = ["kind", "key", "organization", "incident", "sent_at", "created_at"]
