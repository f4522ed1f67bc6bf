from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include(("accounts.api_urls", "api"))),
    path("api/", include(("billing.api_urls", "billing-api"))),
    path("api/", include(("knowledge.api_urls", "knowledge-api"))),
    path("v1/", include("gateway.urls")),
    path("", include("chat.urls")),
    path("", include("billing.urls")),  # pricing, billing pages, the Stripe webhook
    path("", include("accounts.urls")),
]
