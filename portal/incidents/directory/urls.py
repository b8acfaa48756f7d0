from django.urls import path

from portal.incidents.directory import views

app_name = "directory"

# Mounted at /o/<uuid:org>/directory/: every view receives `org` and goes through the gate.
urlpatterns = [
    path("", views.directory_index, name="index"),
    path("upload/", views.directory_upload, name="upload"),
    path("<uuid:directory_import>/", views.directory_import_preview, name="preview"),
    path("<uuid:directory_import>/apply/", views.directory_import_apply_view, name="apply"),
    path("<uuid:directory_import>/discard/", views.directory_import_discard_view, name="discard"),
]
