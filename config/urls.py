from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("challengeapp.urls")),
]

handler404 = "challengeapp.error_pages.not_found"
handler500 = "challengeapp.error_pages.server_error"
