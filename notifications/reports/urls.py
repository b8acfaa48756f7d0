"""The account's suspicion reports: /o/<account>/reports/ (issue 6)."""

from django.urls import path

from notifications.reports import views as report_views

app_name = "reports"
urlpatterns = [
    path("", report_views.report_list, name="list"),
    path("<uuid:report>/", report_views.report_detail, name="detail"),
    path("<uuid:report>/triage/", report_views.report_triage, name="triage"),
]
