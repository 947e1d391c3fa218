# Rollcall production image: gunicorn for the web, the same image for the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Run from the source tree (templates/ and static/ live beside the packages).
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings \
    ROLLCALL_VAR_DIR=/data \
    MEDIA_ROOT=/data/media

# WeasyPrint's libraries (PDF certificates) and the fonts certificates need (Noto CJK for names such as 王芳):
# system-packages.txt, the one list the Makefile and CI read too, less the packages only tests need.
COPY system-packages.txt /tmp/system-packages.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      $(sed -e 's/#.*//' /tmp/system-packages.txt | awk 'NF && $2 != "test" { print $1 }') \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN pip install /app

# Hashed static files for WhiteNoise; the key only satisfies settings during the build.
RUN SECRET_KEY=build-only-not-secret DEBUG=0 python manage.py collectstatic --noinput --verbosity 0

RUN useradd --system --home-dir /app --shell /usr/sbin/nologin rollcall \
 && mkdir -p /data/media \
 && chown -R rollcall /data
USER rollcall
VOLUME ["/data"]
EXPOSE 8000

# No gunicorn access log: Rollcall logs each request itself, as JSON with its request id.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
