from django.urls import path

from rooms import file_views, views

app_name = "rooms"

urlpatterns = [
    path("", views.room_list, name="list"),
    path("mentions/", views.mention_list, name="mentions"),
    path("search/", views.message_search, name="search"),
    path("rooms/new/", views.room_new, name="new"),
    path("rooms/new-conference/", views.conference_new, name="new_conference"),
    path("rooms/direct/<str:username>/", views.direct_open, name="direct"),
    path("rooms/<int:room_id>/", views.room_detail, name="detail"),
    path("rooms/<int:room_id>/invite/", views.room_invite, name="invite"),
    path("rooms/<int:room_id>/leave/", views.room_leave, name="leave"),
    path("rooms/<int:room_id>/settings/", views.room_settings, name="settings"),
    path("rooms/<int:room_id>/audit/", views.room_audit, name="audit"),
    path("files/<str:attachment_id>/", file_views.attachment_file, name="attachment"),
    path(
        "files/<str:attachment_id>/thumbnail/",
        file_views.attachment_thumbnail,
        name="attachment_thumbnail",
    ),
]
