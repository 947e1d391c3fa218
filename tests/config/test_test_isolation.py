"""The test suite touches only what it owns: clearing its cache leaves the broker's Redis database alone."""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

BROKER_REDIS = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")


def test_the_test_cache_lives_in_the_test_process_not_in_redis():
    backend = settings.CACHES["default"]
    assert backend["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert str(os.getpid()) in backend["LOCATION"]


def test_clearing_the_test_cache_leaves_a_key_in_the_brokers_redis_database(fresh_cache):
    import redis

    if not BROKER_REDIS.startswith("redis"):
        pytest.skip("the broker is not Redis")
    server = redis.Redis.from_url(BROKER_REDIS, socket_connect_timeout=2, socket_timeout=2)
    try:
        server.ping()
    except redis.exceptions.RedisError as exc:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis {BROKER_REDIS} is unreachable: {exc}")
        pytest.skip(f"Redis {BROKER_REDIS} is unreachable: {exc}")
    sentinel = f"rollcall-test-sentinel-{os.getpid()}"
    server.set(sentinel, "kept", ex=60)
    try:
        cache.set("own", 1)
        cache.clear()
        assert cache.get("own") is None
        assert server.get(sentinel) == b"kept"
    finally:
        server.delete(sentinel)


def test_the_fresh_cache_fixture_refuses_a_shared_cache(request):
    redis_cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": BROKER_REDIS}}
    with override_settings(CACHES=redis_cache):
        from django.core.cache import caches

        from tests.conftest import own_cache_only

        with pytest.raises(RuntimeError, match="own process"):
            own_cache_only(caches["default"])
