"""The account's notice templates: /o/<account>/notices/templates/ (issue 6)."""

from django.urls import path

from notifications.notice_templates import views

app_name = "notice_templates"
urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_create, name="create"),
    path("<uuid:template>/", views.template_preview, name="preview"),
    path("<uuid:template>/edit/", views.template_edit, name="edit"),
    path("<uuid:template>/delete/", views.template_delete, name="delete"),
    path("<uuid:template>/copy/", views.template_copy, name="copy"),
    path("<uuid:template>/frame/", views.template_frame, name="frame"),
    path("<uuid:template>/test/", views.template_test_send, name="test_send"),
]
