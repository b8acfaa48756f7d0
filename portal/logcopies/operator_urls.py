from django.urls import path

from portal.logcopies import operator_views

app_name = "operator_logcopies"
urlpatterns = [
    path("", operator_views.queue, name="queue"),
    path("policy/<uuid:org>/", operator_views.policy, name="policy"),
    path("<uuid:copy>/", operator_views.detail, name="detail"),
    path("<uuid:copy>/approve/", operator_views.approve, name="approve"),
    path("<uuid:copy>/reject/", operator_views.reject, name="reject"),
]
