from django.urls import path

from rooms import views

app_name = "rooms"

urlpatterns = [
    path("", views.room_list, name="list"),
    path("rooms/new/", views.room_new, name="new"),
    path("rooms/<int:room_id>/", views.room_detail, name="detail"),
]
