from django.urls import path

from portal.incidents.exposures import views

app_name = "incidents"

# Mounted at /o/<uuid:org>/incidents/: every view receives `org` and goes through the
# gate, then finds the incident among the account's own.
urlpatterns = [
    path("<uuid:incident>/", views.dashboard, name="dashboard"),
    path("<uuid:incident>/exposed/", views.exposed, name="exposed"),
    path("<uuid:incident>/exposed/export.csv", views.exposed_export, name="exposed_export"),
    path("<uuid:incident>/exposed/<uuid:exposure>/", views.exposure_detail, name="exposure"),
    path(
        "<uuid:incident>/exposed/<uuid:exposure>/reveal/",
        views.exposure_reveal,
        name="reveal",
    ),
    path("<uuid:incident>/unmatched/", views.unmatched, name="unmatched"),
]
