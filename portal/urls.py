from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from portal import views
from portal.accounts import urls as account_urls
from portal.api.main import api
from portal.incidents.exposures import views as exposure_views
from portal.languages import language_set
from portal.logcopies import views as logcopy_views
from portal.logcopies.keys import CHECKER_PATH, PUBLIC_KEY_PATH

# The admin signs in through allauth like everyone else: one sign-in form, with the
# second factor and the lockout, instead of a side door without either.
admin.site.login = secure_admin_login(admin.site.login)

# The account's own pages under /o/<org>/, one namespace: its home, which lists the
# incidents touching it (incidents), then its team and settings (accounts).
account_pages = [
    path("", exposure_views.account_home, name="home"),
    *account_urls.urlpatterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("language/", language_set, name="language_set"),
    path("favicon.ico", views.favicon, name="favicon"),
    # Fixed for good: scripts and SIEMs fetch the key that signs log-copy manifests here.
    path(PUBLIC_KEY_PATH.lstrip("/"), logcopy_views.signing_key_public, name="logcopy_key"),
    path(CHECKER_PATH.lstrip("/"), logcopy_views.checker_download, name="logcopy_checker"),
    path("o/<uuid:org>/", include((account_pages, "accounts"))),
    path("o/<uuid:org>/audit/", include("portal.audit.urls")),
    path("o/<uuid:org>/incidents/", include("portal.incidents.exposures.urls")),
    path("o/<uuid:org>/directory/", include("portal.incidents.directory.urls")),
    path("o/<uuid:org>/log-copies/", include("portal.logcopies.urls")),
    path("o/<uuid:org>/notices/templates/", include("notifications.notice_templates.urls")),
    path("o/<uuid:org>/notices/", include("notifications.campaigns.urls")),
    path("o/<uuid:org>/reports/", include("notifications.reports.urls")),
    path("o/<uuid:org>/settings/webhooks/", include("portal.webhooks.urls")),
    path("report/", include("notifications.reports.public_urls")),
    path("invitations/", include("portal.accounts.invitation_urls")),
    path("operator/incidents/", include("portal.incidents.operator.urls")),
    path("operator/log-copies/", include("portal.logcopies.operator_urls")),
    path("operator/notices/", include("notifications.notice_templates.operator_urls")),
    path("operator/", include("portal.incidents.operator.console_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # Security staff's scripts (issue 16): the JSON API, authenticated by API keys.
    path("api/v1/", api.urls),
]

handler500 = "portal.views.server_error"
