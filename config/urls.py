import sys

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.exceptions import RequestDataTooBig
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.middleware import api_error, is_api, is_database_unavailable, request_too_large, service_unavailable
from oms.error_codes import ApiErrorCode, PermissionErrorCode

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("oms.api.urls")),
    path("api/", include("ems.api.urls")),
    path("api/", include("rfq.api.urls")),
    path("api/", include("tca.api.urls")),
    path("", include("ems.urls")),
    path("", include("rfq.urls")),
    path("", include("tca.urls")),
    path("", include("fix.urls")),
    path("", include("oms.urls")),
]


# Errors raised outside a DRF view (no route, a middleware failing): JSON with a `code` on /api/, the site's
# pages elsewhere. config.middleware answers what it can before these are reached.


def handler400(request, exception=None):
    if isinstance(exception, RequestDataTooBig) and is_api(request):
        return request_too_large()
    if is_api(request):
        return api_error(400, ApiErrorCode.BAD_REQUEST, "The request could not be understood")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if is_api(request):
        return api_error(403, PermissionErrorCode.DENIED, "You do not have permission to do this")
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if is_api(request):
        return api_error(404, ApiErrorCode.NOT_FOUND, "No API endpoint or object at this address")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if is_database_unavailable(sys.exc_info()[1]):
        return service_unavailable(request)
    if is_api(request):
        return api_error(500, ApiErrorCode.SERVER_ERROR, "The server failed to answer this request; it has been logged")
    return defaults.server_error(request)
