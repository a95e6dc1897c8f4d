from django.urls import path

from tests.django_project.shop import views

urlpatterns = [
    path("orders/<int:order>/ship", views.ship),
    path("contact", views.contact),
]
