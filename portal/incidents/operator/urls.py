from django.urls import path

from portal.incidents.operator import views

app_name = "operator_incidents"

# Mounted at /operator/incidents/: staff only (portal.accounts.gate.staff_view); anyone
# else gets a 404.
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_create_view, name="create"),
    path("<uuid:incident>/", views.incident_detail, name="detail"),
    path("<uuid:incident>/edit/", views.incident_edit, name="edit"),
    path("<uuid:incident>/publish/", views.incident_publish_view, name="publish"),
    path("<uuid:incident>/close/", views.incident_close_view, name="close"),
    path("<uuid:incident>/upload/", views.incident_upload, name="upload"),
    path("batches/<uuid:batch>/", views.batch_detail, name="batch"),
    path("batches/<uuid:batch>/progress/", views.batch_progress, name="batch_progress"),
    path("batches/<uuid:batch>/errors.csv", views.batch_errors, name="batch_errors"),
    path("batches/<uuid:batch>/retry/", views.batch_retry, name="batch_retry"),
    path("batches/<uuid:batch>/publish/", views.batch_accept_problems, name="batch_publish"),
    path("batches/<uuid:batch>/discard/", views.batch_discard, name="batch_discard"),
]
