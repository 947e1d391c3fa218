"""The role catalogue: the services and roles every Rollcall holds (PRODUCT.md's role table).

Migration 0003 seeded these rows once; this module is the living list, written again after every migrate (and
after a test database is flushed) by the post_migrate receiver in accounts.apps, so a role added here reaches
every database without a data migration and a flushed database never lacks its roles."""

SERVICES = [
    ("exams", "Exams"),
    ("learning_analytics", "Learning analytics"),
    ("registry", "Registry"),
]

ROLES = [
    ("centre_admin", "exams", "Centre Admin", "Centre Admin",
     "Everything in the school's User Management, Account Manager, sync and Assessments; deletes users."),
    ("eo", "exams", "Exams Officer", "EO", "Adds, uploads and edits users; sees progress, User Summary, certificates."),
    ("slt", "exams", "Senior Leadership", "SLT", "Views users, progress, User Summary and certificates."),
    ("inv", "exams", "Invigilator", "INV", "The Assessments area only: takes assessments open to them."),
    ("nominated_contact", "registry", "Nominated Contact", "NC",
     "Adds, uploads and edits users, Account Manager actions, Bulk User Synchronise."),
    ("student_portal", "learning_analytics", "Student Portal", "Student", "Their own profile."),
    ("teacher_security", "learning_analytics", "Teacher Security", "Teacher", "Their own profile."),
    ("access_slt", "learning_analytics", "Access for SLT, ELT, CLT", "SLT/ELT/CLT",
     "Read-only dashboard and sync history."),
    ("parent", "learning_analytics", "Parent", "Parent", "Their own profile and their linked students."),
    ("admin_level_one", "learning_analytics", "Administrator Level One", "Admin L1",
     "Views Users and Account Manager; sends welcome emails."),
    ("admin_security", "learning_analytics", "Administrator Security", "Admin Sec",
     "As Nominated Contact, plus assigning roles other than Centre Admin."),
]  # fmt: skip


def catalogue_write(*, using: str = "default") -> None:
    """Idempotent: each service and role as listed here (names and descriptions follow this list)."""
    from accounts.models import Role, Service

    for code, name in SERVICES:
        Service.objects.using(using).update_or_create(code=code, defaults={"name": name})
    for order, (code, service, name, short, description) in enumerate(ROLES):
        Role.objects.using(using).update_or_create(
            code=code,
            defaults={"service_id": service, "name": name, "short_name": short, "description": description,
                      "sort_order": order},
        )  # fmt: skip
