"""Settings of the harness's Django project: django-connectwise, SQLite, and the fake from the environment.

SQLite, not PostgreSQL: the library's only PostgreSQL-specific piece is four GinIndex declarations on
`udf_data`, and Django's SQLite schema editor writes them as plain indexes (its CREATE INDEX has no
USING clause), while nothing in sync.py uses a PostgreSQL-only lookup. So the library runs unmodified
with no server to start, and the sync exercises the same code path; only the index type differs.
"""

import os

SECRET_KEY = "cwsim-django-connectwise-harness"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djconnectwise"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJCW_DATABASE"]}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
MEDIA_ROOT = os.environ.get("DJCW_MEDIA_ROOT", os.path.dirname(os.environ["DJCW_DATABASE"]))

CONNECTWISE_SERVER_URL = os.environ.get("DJCW_SERVER_URL", "http://127.0.0.1:9")
CONNECTWISE_CREDENTIALS = {
    "company_id": os.environ.get("DJCW_COMPANY_ID", ""),
    "api_public_key": os.environ.get("DJCW_PUBLIC_KEY", ""),
    "api_private_key": os.environ.get("DJCW_PRIVATE_KEY", ""),
}
CONNECTWISE_CLIENTID = os.environ.get("DJCW_CLIENT_ID", "")
CONNECTWISE_TICKET_PATH = "v4_6_release/services/system_io/router/openrecord.rails"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"djconnectwise": {"handlers": ["stderr"], "level": "ERROR"}},
}
