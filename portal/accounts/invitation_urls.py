"""The link in an invitation email, mounted at /invitations/ (portal/urls.py).

Open to visitors who are not signed in, and to signed-in people without a second factor
yet (portal.accounts.mfa lets /invitations/ through).
"""

from django.urls import path

from portal.accounts import views

app_name = "invitations"

urlpatterns = [
    path("<str:token>/", views.invitation_accept, name="accept"),
]
