from django.urls import path, re_path

from fix import views

urlpatterns = [
    path("fix/", views.fix_sessions, name="fix-sessions"),
    re_path(r"^fix/sessions/(?P<session_id>[0-9]{1,18})/$", views.fix_session_detail, name="fix-session"),
    re_path(r"^fix/sessions/(?P<session_id>[0-9]{1,18})/(?P<verb>enable|disable|reset)/$", views.fix_session_control, name="fix-session-control"),
]
