"""Rollcall settings, read from the environment.

With nothing set this is the embedded default: SQLite in var/ and a Celery broker on the
filesystem, so `make run` needs no server. DATABASE_URL / CELERY_BROKER_URL switch to
PostgreSQL and Redis. DEBUG=0 turns on every production safeguard (`check --deploy` clean).
"""

import copy
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config import logs, signing_keys

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ROLLCALL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def published_secret_keys() -> set[str]:
    """Keys anyone can read: the sample in .env.example (copied to .env as it stands, it would sign every
    session with a key on GitHub), and the development ones, which all start "dev-only"."""
    keys = set()
    sample = BASE_DIR / ".env.example"
    if sample.exists():
        for line in sample.read_text().splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "SECRET_KEY" and value.strip():
                keys.add(value.strip())
    return keys


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip()
if not DEBUG and (SECRET_KEY in published_secret_keys() or SECRET_KEY.startswith("dev-only")):
    SECRET_KEY = ""  # a published key is no secret: refused exactly as a missing one
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off, to a secret of your own (not the sample of .env.example)."
        )
    SECRET_KEY = "dev-only-insecure-key-rollcall-" + "x" * 40
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.google",
    "oauth2_provider",
    "tenancy",
    "accounts",
    "signon",
    "scim",
    "outbound",
    "provisioning",
    "rostering",
    "assessments",
    "pages",
]

MIDDLEWARE = [
    "tenancy.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.AccountStateMiddleware",
    "accounts.middleware.SchoolScopeMiddleware",
    "tenancy.middleware.RequestContextMiddleware",
    "tenancy.middleware.SupportAdminMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.school_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'rollcall.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions and a busy
    # timeout turn "database is locked" into a short wait instead of an error.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
elif "postgresql" in DATABASES["default"]["ENGINE"] and not env_bool("POSTGRES_JIT", False):
    # PostgreSQL's JIT spent 4.4 s compiling the Account Manager's state query (EXISTS subqueries over
    # 10,000 contacts) that then ran in 0.4 s; short OLTP queries never gain from it.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if "postgresql" in DATABASES["default"]["ENGINE"]:
    # A second connection to the same database, for job progress only (tenancy.services.job_progress): a
    # job working inside one long transaction (the MIS sync, an upload) writes its progress through it and
    # commits at once, so the browser's bar moves. Tests point it at the test database (a mirror). SQLite
    # has none: its one writer at a time would make this connection wait on the job's own transaction.
    DATABASES["jobs_progress"] = {**copy.deepcopy(DATABASES["default"]), "TEST": {"MIRROR": "default"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (allauth's login rate limits need a shared one in production) ------------------
_broker = os.environ.get("CELERY_BROKER_URL", "")
REDIS_URL = os.environ.get("REDIS_URL") or (_broker if _broker.startswith("redis") else "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # One process per machine in the embedded default, so a local cache is shared enough.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rollcall"}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Account"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses passwords of people whose schools sign in with Microsoft 365 or Google only.
    "accounts.backends.SignInMethodBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "accounts.backends.EmailBackend",
    "accounts.backends.StarterCodeBackend",
]
# Usernames are unique ignoring case through a functional UniqueConstraint, which this check
# cannot see; Account.objects.get_by_natural_key looks them up with iexact.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"
SITE_ID = 1

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# allauth requires this for email sign-in; the registry itself lets two accounts share an email
# (a family address), and sign-in then tries the password against each of them.
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_USER_MODEL_EMAIL_FIELD = "email"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
# A whole school signs in from one address (its NAT, or the proxy's address when TRUSTED_PROXY_COUNT is
# unset), a class of 30 at once with a few typos among them: the per-address limits are sized for a school,
# never for one person. Guessing one account's password is stopped per account (the key is the username or
# email typed): 5 failures in 5 minutes, whatever address they come from.
ACCOUNT_RATE_LIMITS = {
    "login": "600/m/ip",
    "login_failed": "120/m/ip,5/5m/key",
    "reset_password": "60/m/ip,5/m/key",
}
# How many proxies under our control stand in front of Rollcall: allauth then takes the client's address
# from that position of X-Forwarded-For (which anyone can otherwise write) for its per-address limits.
# 0, the default, ignores X-Forwarded-For and uses the address the connection comes from.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Rollcall: "
# Finds the account by email ignoring case, as sign-in does (accounts.selectors.accounts_with_email).
ACCOUNT_FORMS = {"reset_password": "accounts.adapters.ResetPasswordForm"}
# Unlinks a sign-in even once its provider is no longer configured, where allauth's own form fails.
SOCIALACCOUNT_FORMS = {"disconnect": "accounts.adapters.DisconnectForm"}
SOCIALACCOUNT_AUTO_SIGNUP = False
# A Microsoft/Google sign-in finds its account by verified email in accounts.adapters.SocialAccountAdapter
# (case-insensitive, one account only, then linked). allauth's own email authentication is off because
# it would wipe the account's Rollcall password on the first match.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_PROVIDERS = {}
if os.environ.get("MICROSOFT_CLIENT_ID"):
    SOCIALACCOUNT_PROVIDERS["microsoft"] = {
        "APPS": [
            {
                "client_id": os.environ["MICROSOFT_CLIENT_ID"],
                "secret": os.environ.get("MICROSOFT_CLIENT_SECRET", ""),
                "settings": {
                    "tenant": os.environ.get("MICROSOFT_TENANT", "organizations"),
                    # Microsoft does not say whether a mailbox address is verified, and any tenant
                    # can set one; trust it only on domains the deployment names.
                    "verified_email": env_list("MICROSOFT_VERIFIED_EMAIL_DOMAINS"),
                },
            }
        ]
    }
if os.environ.get("GOOGLE_CLIENT_ID"):
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [{"client_id": os.environ["GOOGLE_CLIENT_ID"], "secret": os.environ.get("GOOGLE_CLIENT_SECRET", "")}],
        "SCOPE": ["profile", "email"],
    }

# --- Security ---------------------------------------------------------------------------
SECURE = not DEBUG and env_bool("SECURE", True)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SECURE_SSL_REDIRECT = SECURE and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp): scripts only from Rollcall's own static files, never inline, so
# injected markup cannot run script. Behaviour lives in static/js/rollcall.js; htmx's inline indicator
# styles are off (htmx-config in base.html). A page that must carry an inline <style> (the certificate,
# Swagger UI) marks it with the response's nonce, which the header then names; other pages name none.
# No form-action: Chrome applies it to the redirect to Microsoft or Google after the sign-in form's POST.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],  # the QR code on certificates, Swagger UI's icons
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Uploads: anything larger than this is refused before a reader sees it.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Files that name people are kept only so long (days), then purged by scheduled tasks (README "Data kept").
JOB_REPORT_RETENTION_DAYS = env_int("JOB_REPORT_RETENTION_DAYS", 30)
UPLOAD_FILE_RETENTION_DAYS = env_int("UPLOAD_FILE_RETENTION_DAYS", 7)
FEED_RETENTION_DAYS = env_int("FEED_RETENTION_DAYS", 30)
# A school export (everything the school holds, in one zip) is downloadable once; unclaimed, it goes after this.
SCHOOL_EXPORT_RETENTION_DAYS = env_int("SCHOOL_EXPORT_RETENTION_DAYS", 2)

# --- I18N / static / media --------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Rollcall <no-reply@rollcall.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------
# The filesystem transport needs no server, yet a real worker process consumes from it.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(os.environ.get("CELERY_FS_DIR", VAR_DIR / "broker"))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
# A running job whose worker wrote no heartbeat (tenancy.services.job_progress) for JOB_STALLED_AFTER is shown
# as stalled, and may be started again by hand; after JOB_ABANDONED_AFTER the broker's copy of its message,
# when it comes back, may take it up again (tenancy.services.job_claim).
JOB_STALLED_AFTER = timedelta(minutes=env_int("JOB_STALLED_AFTER_MINUTES", 5))
JOB_ABANDONED_AFTER = timedelta(minutes=env_int("JOB_ABANDONED_AFTER_MINUTES", 30))
# When the broker hands an unacknowledged message (acks late: its worker died) to another worker, counted from
# its delivery; None: never (the filesystem transport deletes a message as it hands it over). Redis keeps it
# for its visibility timeout, one hour by default: set here on purpose to the abandonment threshold plus the
# stall threshold, so the message of a worker that died within its first JOB_STALLED_AFTER comes back just
# after the job counts as abandoned, and is taken up again (a job that died later is started again by hand).
JOB_REDELIVERED_AFTER = None
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    JOB_REDELIVERED_AFTER = JOB_ABANDONED_AFTER + JOB_STALLED_AFTER
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(JOB_REDELIVERED_AFTER.total_seconds())}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks each worker runs at once (processes, or threads with --pool=threads); unset: one per CPU. The night's
# schools are one task each (provisioning.sync.nightly), so a night's length is schools x per-school time over
# (worker replicas x this), while the database keeps up (docs/scale.md).
CELERY_WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 0) or None
# Celery's Django fixup closes every database connection after every task, whatever CONN_MAX_AGE says: each
# school's nightly task then opened two new PostgreSQL sessions (default and jobs_progress), a backend
# started and its caches warmed each time. Kept for this many tasks instead; config/celery.py still drops one
# past CONN_MAX_AGE or in error after each task, as Django does after a request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenancy.authentication.SchoolTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # A service's ValidationError / PermissionDenied becomes a 400 / 403 the same way in every view.
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rollcall API",
    "DESCRIPTION": "School account provisioning: accounts, roles, feeds, sync runs and jobs, per school.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Schema and docs: a signed-in person or any school's API token, except with DEBUG on (config/api.py).
    "SERVE_PERMISSIONS": ["config.api.SignedInUnlessDebug"],
    # Each operation lists its 400/401/403/404 answers too, not just the happy one.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.api.add_error_responses"],
    "SERVE_AUTHENTICATION": [
        "tenancy.authentication.AnySchoolTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Swagger UI and Redoc come from drf-spectacular-sidecar: /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Sign-on: Rollcall as an OpenID Connect provider (signon/, django-oauth-toolkit) ---------------------
# Keys: config/signing_keys.py. Tokens are short-lived so that what changes in the registry (a role removed, a
# membership archived) reaches a service within minutes even where no revocation fires; refresh re-checks who
# may sign in each time. An inactive (rotated-out) key stays in the JWKS at least ID_TOKEN_EXPIRE_SECONDS.
# Named for the migrations' swappable dependency (signon links its services to the stock Application model).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OIDC_ID_TOKEN_SECONDS = env_int("OIDC_ID_TOKEN_SECONDS", 900)
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": signing_keys.active_key_setting(VAR_DIR),
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": signing_keys.inactive_keys(),
    # The issuer: by default the address the request came to; pin it behind a proxy that rewrites hosts.
    "OIDC_ISS_ENDPOINT": os.environ.get("OIDC_ISSUER", "").rstrip("/"),
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    # A service may send people back only to an address it registered.
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OAUTH2_VALIDATOR_CLASS": "signon.validators.RollcallValidator",
    "SCOPES_BACKEND_CLASS": "signon.scopes.ServiceScopes",
    "SCOPES": {
        "openid": "Know that you are signed in with Rollcall",
        "profile": "Your name and username",
        "email": "Your email address",
        "schools": "Your schools, person type, year group and roles there",
        "linked_students": "The students linked to you as a parent or carer",
        "introspection": "Check tokens it was given",
        # rostering/: the organisation's rosters over OneRoster 1.2 REST, to a service with client credentials.
        "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly": "Read the organisation's rosters "
        "(OneRoster 1.2: people, their roles and schools)",
    },
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OIDC_ACCESS_TOKEN_SECONDS", 900),
    "ID_TOKEN_EXPIRE_SECONDS": OIDC_ID_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("OIDC_REFRESH_TOKEN_SECONDS", 14 * 24 * 3600),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Plain http only where the whole site is (development, the tests' relying party on 127.0.0.1).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if SECURE else ["http", "https"],
    "ALLOWED_SCHEMES": ["https"] if SECURE else ["http", "https"],
    # RFC 9700 (the OAuth 2.0 security BCP), all of it: no implicit or password grant, PKCE with S256 only, access
    # tokens never in a URL, the issuer named in the authorization response, tokens stored hashed.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}

# --- SCIM push to connected services (outbound/) ---------------------------------------------------
# A push run writes its progress and commits its mappings every SCIM_PUSH_BATCH accounts; each request waits at
# most SCIM_PUSH_TIMEOUT_SECONDS. A run stopped by an outage (network, 5xx, 429) is retried with back-off up to
# SCIM_PUSH_RETRIES times, then recorded as failed; the next sweep (every SCIM_SWEEP_MINUTES) starts afresh.
SCIM_PUSH_BATCH = env_int("SCIM_PUSH_BATCH", 50)
SCIM_PUSH_TIMEOUT_SECONDS = env_int("SCIM_PUSH_TIMEOUT_SECONDS", 20)
SCIM_PUSH_RETRIES = env_int("SCIM_PUSH_RETRIES", 5)
# A service's exchanges (what was sent and answered) are kept this long.
SCIM_LOG_RETENTION_DAYS = env_int("SCIM_LOG_RETENTION_DAYS", 30)

# --- Logging --------------------------------------------------------------------------------
# Production writes one JSON object a line to stdout; development readable console lines. Every
# logger, structlog's or logging.getLogger(__name__), goes through the same formatter (config/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("console" if DEBUG else "json")
if LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or console.")
LOGGING = logs.logging_config(fmt=LOG_FORMAT, level=os.environ.get("LOG_LEVEL", "INFO"))
logs.configure_structlog()

# The public address, for links in emails, starter-code slips and the QR code on certificates: when set, all of
# them use it (tenancy/public_url.py); unset, the address the request came to.
ROLLCALL_BASE_URL = os.environ.get("ROLLCALL_BASE_URL", "")

# Support contact shown in every footer when the organisation has none of its own.
ROLLCALL_SUPPORT_CONTACT = os.environ.get("ROLLCALL_SUPPORT_CONTACT", "Rollcall support: support@rollcall.invalid")
