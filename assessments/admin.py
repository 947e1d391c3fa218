"""Support staff edit assessment content here, audited like every support change (SupportAdmin).
Content is global; per-person rows are not shown."""

from django.contrib import admin

from accounts.support_admin import SupportAdmin
from assessments.models import Assessment, Choice, Question, Section


class SectionInline(admin.TabularInline):
    model = Section
    extra = 0
    fields = ("order", "title", "pass_mark")
    show_change_link = True


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0
    fields = ("order", "text", "kind")
    show_change_link = True


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0
    fields = ("order", "text", "is_correct")


@admin.register(Assessment)
class AssessmentAdmin(SupportAdmin):
    list_display = ("title", "code", "kind", "duration_minutes", "validity_months", "active")
    list_filter = ("active", "kind")
    search_fields = ("title", "code")
    filter_horizontal = ("audience_roles",)
    inlines = [SectionInline]


@admin.register(Section)
class SectionAdmin(SupportAdmin):
    list_display = ("title", "assessment", "order", "pass_mark")
    list_filter = ("assessment",)
    inlines = [QuestionInline]


@admin.register(Question)
class QuestionAdmin(SupportAdmin):
    list_display = ("__str__", "section", "order", "kind")
    list_filter = ("section__assessment",)
    inlines = [ChoiceInline]
