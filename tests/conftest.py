"""Shared fixtures: two schools, and people at them holding each kind of role."""

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections
from django.test import TransactionTestCase
from django_scopes import scopes_disabled

from tests.factories import PASSWORD, OrganisationFactory, SchoolFactory, member


@pytest.fixture(autouse=True)
def _test_code_sees_all_schools(request):
    """Test bodies build and inspect data freely; views still run inside the middleware's scope.

    A test marked `scoped` keeps scoping on, to check the wall itself.
    """
    if request.node.get_closest_marker("scoped"):
        yield
        return
    with scopes_disabled():
        yield


if "jobs_progress" in settings.DATABASES:
    # Job progress goes through this second connection (tenancy.services.job_progress), a mirror of the
    # test database. A test that marks no databases gets only "default", and Django would refuse the second.
    TransactionTestCase.databases = {"default", "jobs_progress"}

    @pytest.fixture(scope="session", autouse=True)
    def _progress_connection_closed(django_db_setup):
        """Closed before the test database is dropped, which PostgreSQL refuses while a session is open on it
        (the run then leaves test_rollcall_<pid> behind)."""
        yield
        connections["jobs_progress"].close()


@pytest.fixture(scope="session", autouse=True)
def _test_media_removed():
    """The run's media folder (config.settings_test: var/test-media-<pid>, feeds, slips and exports of made-up
    people) goes with the run: each run left about 5 MB behind in a developer's var/."""
    yield
    media = Path(settings.MEDIA_ROOT)
    if media.name.startswith("test-media-"):  # never a media folder the test settings did not make
        shutil.rmtree(media, ignore_errors=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "scoped: run the test body with django-scopes enforcing")


def own_cache_only(cache) -> None:
    """Refuses to let a test clear a cache that other processes share (cache.clear() on Redis is FLUSHDB)."""
    if not isinstance(cache, LocMemCache):
        raise RuntimeError(f"tests clear only a cache of their own process, not {type(cache).__name__}")


@pytest.fixture
def fresh_cache():
    """An empty cache before and after the test: allauth counts sign-in attempts there, and the cache outlives a
    test's database. The test settings give each test process a cache in its own memory, so clearing it touches
    nothing another process (a `make run` worker, the Celery broker on Redis) owns."""
    cache = caches["default"]
    own_cache_only(cache)
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="Northfield Learning Trust", support_contact="Trust IT 01632 960 000")


@pytest.fixture
def school_a(organisation):
    return SchoolFactory(organisation=organisation, name="Alder Academy", slug="alder")


@pytest.fixture
def school_b(db):
    return SchoolFactory(name="Birch High", slug="birch")


@pytest.fixture
def centre_admin(school_a):
    return member(school_a, "centre_admin", username="ca.alder").account


@pytest.fixture
def eo_user(school_a):
    return member(school_a, "eo", username="eo.alder").account


@pytest.fixture
def inv_user(school_a):
    return member(school_a, "inv", username="inv.alder").account


@pytest.fixture
def nominated_contact(school_a):
    return member(school_a, "nominated_contact", username="nc.alder").account


@pytest.fixture
def other_school_admin(school_b):
    """The persona who must see nothing of school A."""
    return member(school_b, "centre_admin", username="ca.birch").account


@pytest.fixture
def support_user(db):
    from tests.factories import AccountFactory

    return AccountFactory(username="support", is_staff=True, is_superuser=True)


@pytest.fixture
def login(client):
    def _login(account):
        client.force_login(account)
        return client

    return _login


@pytest.fixture
def password():
    return PASSWORD
