"""Under /ims/oneroster/rostering/v1p2/ (the path the OneRoster 1.2 REST binding names)."""

from django.urls import path

from rostering import api

urlpatterns = [
    path("users", api.users_list, name="oneroster_users"),
    path("users/<str:sourced_id>", api.user_detail, name="oneroster_user"),
    path("students", api.students_list, name="oneroster_students"),
    path("students/<str:sourced_id>", api.student_detail, name="oneroster_student"),
    path("teachers", api.teachers_list, name="oneroster_teachers"),
    path("teachers/<str:sourced_id>", api.teacher_detail, name="oneroster_teacher"),
    path("orgs", api.orgs_list, name="oneroster_orgs"),
    path("orgs/<str:sourced_id>", api.org_detail, name="oneroster_org"),
    path("schools", api.schools_list, name="oneroster_schools"),
    path("schools/<str:sourced_id>", api.school_detail, name="oneroster_school"),
    path("schools/<str:school_id>/students", api.school_students, name="oneroster_school_students"),
    path("schools/<str:school_id>/teachers", api.school_teachers, name="oneroster_school_teachers"),
    path("classes", api.classes_list, name="oneroster_classes"),
    path("enrollments", api.enrollments_list, name="oneroster_enrollments"),
    path("academicSessions", api.academic_sessions_list, name="oneroster_academic_sessions"),
]
