app_name = "operator_incidents"
urlpatterns: list = []
