from django.urls import path

from portal.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("<uuid:endpoint>/", views.endpoint_detail, name="detail"),
    path("<uuid:endpoint>/test/", views.endpoint_test, name="test"),
    path("<uuid:endpoint>/rotate/", views.endpoint_rotate, name="rotate"),
    path("<uuid:endpoint>/delete/", views.endpoint_delete_view, name="delete"),
    path(
        "<uuid:endpoint>/deliveries/<uuid:delivery>/replay/",
        views.delivery_replay_view,
        name="replay",
    ),
]
