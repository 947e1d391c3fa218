"""Structured logs: every log line, from structlog or from `logging.getLogger(__name__)`, goes through
one structlog ProcessorFormatter, as JSON (one object per line) in production and as readable console
lines in development. Context bound with structlog.contextvars (the request id, the school, the job)
is added to every line logged while it is bound, whichever logger wrote it.
"""

import sys

import structlog

# Values under these keys are replaced wherever they appear in a line's context or extras.
_SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "authorization", "cookie", "api_key", "credential")

# Not context: Django's request and socket objects (the request's context is taken from them instead),
# Celery's task context dict, which only repeats the message, and what other handlers' formatters
# (pytest's, Sentry's) leave on a record they saw first.
_NOISY_EXTRAS = ("request", "server_time", "data", "message", "asctime")


def _request_context_from_record(_logger, _name, event_dict):
    """Django logs a 4xx response after the middleware has returned and unbound the request's context;
    the request on the record still carries it (tenancy.middleware.RequestIdMiddleware)."""
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    request = getattr(record, "request", None)
    for key, value in getattr(request, "log_context", {}).items():
        event_dict.setdefault(key, value)
    if record.name == "django.request":
        event_dict["event"] = _path_as_route(event_dict["event"], request)
    if record.name == "django.server":
        event_dict.pop("status_code", None)  # runserver's line already ends with it
    for key in _NOISY_EXTRAS:
        event_dict.pop(key, None)
    return event_dict


def _path_as_route(event: str, request) -> str:
    """'Gone: /welcome/<str:token>/', not the token: a path can hold a password-reset key or a
    set-password link's token, and Django names the path in its line about each 4xx and 5xx."""
    route = getattr(getattr(request, "resolver_match", None), "route", None)
    path = getattr(request, "path", None)
    if not (route and path and isinstance(event, str)):
        return event
    return event.replace(path, "/" + route)


def _core_keys_first(_logger, _name, event_dict):
    """Timestamp, level, logger and event lead each JSON line, whatever order they were added in."""
    head = {key: event_dict.pop(key) for key in ("timestamp", "level", "logger", "event") if key in event_dict}
    return {**head, **event_dict}


def _redact_secrets(_logger, _name, event_dict):
    for key in event_dict:
        if any(part in key.lower() for part in _SECRET_KEY_PARTS):
            event_dict[key] = "[redacted]"
    return event_dict


# Run on every line: structlog's own before wrap_for_formatter, stdlib records as the foreign_pre_chain.
_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.StackInfoRenderer(),
]
# A stdlib record's `extra=` values become keys of the line, as structlog's keyword arguments do.
_FOREIGN = [*_SHARED, structlog.stdlib.ExtraAdder(), _request_context_from_record]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """One JSON object a line: timestamp (UTC, ISO 8601), level, logger, event, then the context."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_FOREIGN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_secrets,
            structlog.processors.format_exc_info,
            _core_keys_first,
            structlog.processors.JSONRenderer(),
        ],
    )


def console_formatter() -> structlog.stdlib.ProcessorFormatter:
    """Aligned, local-time lines for a developer's terminal; colours only when it is one."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_FOREIGN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
            _redact_secrets,
            # Plain tracebacks: Rich's (the default when it is installed) print local variables,
            # which can hold a password.
            structlog.dev.ConsoleRenderer(
                colors=sys.stdout.isatty(), exception_formatter=structlog.dev.plain_traceback
            ),
        ],
    )


def logging_config(*, fmt: str, level: str) -> dict:
    """The LOGGING dict: one stdout handler at the root, every named logger propagating to it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "config.logs.json_formatter"},
            "console": {"()": "config.logs.console_formatter"},
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": fmt},
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # Django's defaults give these their own handlers (plain text, and a second copy of every
            # django.* line in DEBUG); emptied, they reach the root's formatter like everything else.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            "django.db.backends": {"level": "WARNING"},
            # One line per request (tenancy.middleware.RequestIdMiddleware) for production; in
            # development runserver's django.server line already says the same.
            "rollcall.request": {"level": "INFO" if fmt == "json" else "WARNING"},
            # WeasyPrint logs every layout step at INFO: noise in the worker log, and time per PDF.
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
            # django-oauth-toolkit and oauthlib write redirect URLs (holding authorization codes) and request
            # bodies at DEBUG: the sign-on's credentials never reach the log, whatever LOG_LEVEL says.
            "oauth2_provider": {"level": "WARNING"},
            "oauthlib": {"level": "WARNING"},
        },
    }


def bind_task_context(*, task_id: str, task_name: str) -> dict:
    """Binds a Celery task's name and id; returns the tokens unbind_task_context needs."""
    return structlog.contextvars.bind_contextvars(task=task_name, task_id=task_id)


def unbind_task_context(tokens: dict) -> None:
    # Reset, not cleared: an eager task inside a web request must leave the request's context alone.
    structlog.contextvars.reset_contextvars(**tokens)
