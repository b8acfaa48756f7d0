app_name = "operator_logcopies"
urlpatterns: list = []
