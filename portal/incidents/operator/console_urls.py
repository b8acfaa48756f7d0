from django.urls import path

from portal.audit import views as audit_views
from portal.incidents.operator import accounts as operator_views

app_name = "operator"

# Mounted at /operator/: staff only (portal.accounts.gate.staff_view); anyone else
# gets a 404.
urlpatterns = [
    path("", operator_views.operator_accounts_list, name="accounts"),
    path("accounts/<uuid:org>/", operator_views.operator_account, name="account"),
    path("audit/", audit_views.operator_audit_list, name="audit"),
    path("audit/export.csv", audit_views.operator_audit_export, name="audit_export"),
]
