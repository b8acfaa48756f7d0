"""Pages of one customer account, all under /o/<org>/: its team and settings. portal/urls.py
adds its home (incidents' exposures.views.account_home) to the same namespace."""

from django.urls import path

from portal.accounts import settings_views, views

app_name = "accounts"

# The membership's URL keyword is `membership`, not `member`: the gate hands every view
# the signed-in `member`, and the two must not collide.
urlpatterns = [
    path("team/", views.team, name="team"),
    path("team/invite/", views.invitation_create, name="invite"),
    path("team/<uuid:membership>/role/", views.membership_change_role, name="member_role"),
    path("team/<uuid:membership>/remove/", views.membership_remove, name="member_remove"),
    path(
        "team/invitations/<uuid:invitation>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/", settings_views.account_settings, name="settings"),
    path("settings/api-keys/", settings_views.api_keys, name="api_keys"),
    path(
        "settings/api-keys/<uuid:key>/revoke/",
        settings_views.api_key_revoke,
        name="api_key_revoke",
    ),
]
