app_name = "logcopies"
urlpatterns: list = []
