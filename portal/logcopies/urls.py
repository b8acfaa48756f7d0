from django.urls import path

from portal.logcopies import exposure_export_views, views

app_name = "logcopies"
urlpatterns = [
    path("", views.copy_list, name="list"),
    path("new/", views.copy_request, name="request"),
    path("<uuid:copy>/", views.copy_detail, name="detail"),
    path("<uuid:copy>/progress/", views.copy_progress, name="progress"),
    path("<uuid:copy>/retry/", views.copy_retry, name="retry"),
    path("<uuid:copy>/link/", views.copy_link, name="link"),
    path("<uuid:copy>/download/<str:token>/", views.copy_download, name="download"),
    path("exports/<uuid:export>/", exposure_export_views.export_detail, name="export"),
    path(
        "exports/<uuid:export>/progress/",
        exposure_export_views.export_progress,
        name="export_progress",
    ),
    path(
        "exports/<uuid:export>/download/<str:export_token>/",
        exposure_export_views.export_download,
        name="export_download",
    ),
]
