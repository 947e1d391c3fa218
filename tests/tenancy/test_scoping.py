import pytest
from django_scopes import ScopeError, scope

from accounts.models import Membership
from tests.factories import member


@pytest.mark.scoped
def test_it_raises_when_no_school_is_in_scope(school_a):
    with scope(school=school_a):
        member(school_a, "eo")
    with pytest.raises(ScopeError):
        list(Membership.objects.all())


@pytest.mark.scoped
def test_it_returns_only_the_school_in_scope(school_a, school_b):
    with scope(school=school_a):
        mine = member(school_a, "eo")
    with scope(school=school_b):
        member(school_b, "eo")
        assert mine.pk not in set(Membership.objects.values_list("pk", flat=True))
        assert Membership.objects.count() == 1


def test_it_answers_404_for_a_school_that_is_not_yours(login, other_school_admin, school_a):
    response = login(other_school_admin).get(f"/s/{school_a.slug}/")
    assert response.status_code == 404


def test_it_answers_404_for_a_school_that_does_not_exist(login, centre_admin):
    assert login(centre_admin).get("/s/no-such-school/").status_code == 404


def test_it_answers_403_for_a_role_the_user_lacks(login, inv_user, school_a):
    assert login(inv_user).get(f"/s/{school_a.slug}/").status_code == 403


def test_it_shows_the_dashboard_to_a_centre_admin(login, centre_admin, school_a):
    response = login(centre_admin).get(f"/s/{school_a.slug}/")
    assert response.status_code == 200
    assert b"People at Alder Academy" in response.content


def test_a_signed_out_visitor_is_asked_to_sign_in_for_any_school_url(client, school_a):
    real = client.get(f"/s/{school_a.slug}/")
    made_up = client.get("/s/no-such-school/")
    assert real.status_code == made_up.status_code == 302
    assert real["Location"].startswith("/accounts/login/?next=/s/")
    assert made_up["Location"].startswith("/accounts/login/?next=/s/")
