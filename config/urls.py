from django.contrib import admin
from django.urls import include, path

# The product's own URLs before the admin's: URLs are matched in order, and the admin is rare.
urlpatterns = [
    path("", include("challengeapp.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "challengeapp.error_pages.not_found"
handler500 = "challengeapp.error_pages.server_error"
