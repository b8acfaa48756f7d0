from django.urls import path

from portal.audit import views

app_name = "audit"

# Mounted at /o/<uuid:org>/audit/: every view receives `org` and goes through the gate.
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("export.csv", views.audit_export, name="export"),
]
