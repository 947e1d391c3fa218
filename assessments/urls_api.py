"""School API for assessments, under /api/s/<school_slug>/assessments/."""

urlpatterns = []
