"""Operator console: the default notice templates, /operator/notices/ (issue 6)."""

from django.urls import path

from notifications.notice_templates import operator_views

app_name = "operator_notices"
urlpatterns = [
    path("", operator_views.template_list, name="list"),
    path("new/", operator_views.template_create, name="create"),
    path("<uuid:default_template>/", operator_views.template_edit, name="edit"),
    path("<uuid:default_template>/delete/", operator_views.template_delete, name="delete"),
    path("<uuid:default_template>/frame/", operator_views.template_frame, name="frame"),
]
