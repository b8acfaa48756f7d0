"""The account's campaigns: /o/<account>/notices/ (issue 6)."""

from django.urls import path

from notifications.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("<uuid:campaign>/", views.campaign_detail, name="detail"),
    path("<uuid:campaign>/edit/", views.campaign_edit, name="edit"),
    path("<uuid:campaign>/review/", views.campaign_review, name="review"),
    path("<uuid:campaign>/preview.html", views.campaign_preview_html, name="preview_html"),
    path("<uuid:campaign>/launch/", views.campaign_launch, name="launch"),
    path("<uuid:campaign>/progress/", views.campaign_progress_view, name="progress"),
    path("<uuid:campaign>/pause/", views.campaign_pause, name="pause"),
    path("<uuid:campaign>/resume/", views.campaign_resume, name="resume"),
    path("<uuid:campaign>/cancel/", views.campaign_cancel, name="cancel"),
    path("<uuid:campaign>/retry/", views.campaign_retry, name="retry"),
]
