"""Django settings, read only from BRANCHOPS_* environment variables (see docs/configuration.md)."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from branchops.envconfig import (
    ConfigError,
    django_database,
    env_bool,
    env_choice,
    env_int,
    env_optional,
    env_path,
    env_str,
    parse_database_url,
)

PACKAGE_DIR = Path(__file__).resolve().parent
HOME = env_path("BRANCHOPS_HOME", Path.cwd() / "var")
HOME.mkdir(parents=True, exist_ok=True)


def _secret_key(home: Path) -> str:
    """BRANCHOPS_SECRET_KEY, or a key generated once into BRANCHOPS_HOME and kept there."""
    configured = env_optional("BRANCHOPS_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ConfigError("BRANCHOPS_SECRET_KEY must be at least 32 characters long")
        return configured
    key_file = home / "secret_key"
    if not key_file.exists():
        key = secrets.token_urlsafe(50)
        # O_EXCL: when web and engine start together, only one of them writes the key.
        try:
            with open(key_file, "x", encoding="utf-8") as fh:
                key_file.chmod(0o600)
                fh.write(key)
        except FileExistsError:
            pass
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key(HOME)
DEBUG = env_bool("BRANCHOPS_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip()
    for h in env_str("BRANCHOPS_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in env_str("BRANCHOPS_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

DATABASE = parse_database_url(
    env_str("BRANCHOPS_DATABASE_URL", f"sqlite:///{HOME / 'branchops.sqlite3'}")
)
DATABASES = {"default": django_database(DATABASE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

METRICS_URL = env_str("BRANCHOPS_METRICS_URL", f"sqlite:///{HOME / 'metrics.sqlite3'}")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "branchops.core",
    "branchops.cmdb",
    "branchops.monitoring",
    "branchops.agents",
    "branchops.alerts",
    "branchops.servicedesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "branchops.core.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "branchops.urls"
WSGI_APPLICATION = "branchops.wsgi.application"
ASGI_APPLICATION = "branchops.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "branchops.core.context_processors.navigation",
            ],
        },
    },
]

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["branchops.core.auth.LockoutBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"
LOGIN_MAX_FAILURES = env_int("BRANCHOPS_LOGIN_MAX_FAILURES", 5, minimum=1, maximum=100)
LOGIN_LOCKOUT_MINUTES = env_int("BRANCHOPS_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
API_TOKEN_DEFAULT_DAYS = env_int("BRANCHOPS_API_TOKEN_DAYS", 90, minimum=1, maximum=3650)
# The simulated estate's management addresses start at 127.<block>.0.0 (docs/lab.md).
LAB_ADDRESS_BLOCK = env_int("BRANCHOPS_LAB_ADDRESS_BLOCK", 1, minimum=1, maximum=250)
# Alerts: the address people reach BranchOps at (links in notifications), how long an
# acknowledgement link works, and the names of the three severities (docs/alerts.md).
BASE_URL = env_str("BRANCHOPS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALERT_ACK_LINK_HOURS = env_int("BRANCHOPS_ALERT_ACK_LINK_HOURS", 24, minimum=1, maximum=24 * 14)
ALERT_SEVERITY_NAMES = [
    n.strip() for n in env_str("BRANCHOPS_ALERT_SEVERITY_NAMES", "").split(",") if n.strip()
]
# Where the engine listens for syslog (UDP and TCP) and SNMP traps: host:port, or empty
# for off. The defaults stay on loopback and need no root; production sets 0.0.0.0:514.
SYSLOG_LISTEN = env_str("BRANCHOPS_SYSLOG_LISTEN", "127.0.0.1:1514")
TRAP_LISTEN = env_str("BRANCHOPS_TRAP_LISTEN", "127.0.0.1:1162")
for _name, _value in (("SYSLOG", SYSLOG_LISTEN), ("TRAP", TRAP_LISTEN)):
    _port = _value.rpartition(":")[2]
    if _value and not (_port.isdigit() and 0 < int(_port) < 65536):
        raise ConfigError(f"BRANCHOPS_{_name}_LISTEN={_value!r}: give host:port, or nothing")
if ALERT_SEVERITY_NAMES and len(ALERT_SEVERITY_NAMES) != 3:
    raise ConfigError(
        "BRANCHOPS_ALERT_SEVERITY_NAMES: give three names, most urgent first, e.g. P1,P2,P3"
    )

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("BRANCHOPS_SESSION_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_SECURE = env_bool("BRANCHOPS_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LANGUAGE_CODE = env_choice("BRANCHOPS_LANGUAGE", "zh-hans", ("zh-hans", "en"))
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("BRANCHOPS_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# The vendor assets are built into the package by `make assets`; serving them through the
# finders keeps `branchops demo` free of a collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

IMPORT_MAX_BYTES = env_int("BRANCHOPS_IMPORT_MAX_MB", 16, minimum=1, maximum=512) * 1024 * 1024
IMPORT_MAX_ROWS = env_int("BRANCHOPS_IMPORT_MAX_ROWS", 100_000, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

LOG_LEVEL = env_choice(
    "BRANCHOPS_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per HTTP request from the collectors would drown everything else.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# The broker's active clients (有效客户数), for regulatory rules with a clients threshold
# (docs/servicedesk-reportable.md); 0: not set, and such rules never match.
SERVICEDESK_ACTIVE_CLIENTS = env_int("BRANCHOPS_ACTIVE_CLIENTS", 0, minimum=0)
