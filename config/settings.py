"""Settings, read from the environment (see docs/operations.md, "Runtime and configuration").

PostgreSQL and Redis are always used; ``config.runtime.configure()`` fills in ``DATABASE_URL`` and
``REDIS_URL`` (local servers or embedded ones) before this module is read.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
import pghistory
from django.core.exceptions import ImproperlyConfigured

from config import logs, runtime

runtime.configure()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
# The key comes from the environment or from the data folder's key file that `make run` generates; there
# is no built-in key. A test run makes one per run (and hands it to the servers it starts via the
# environment). DEBUG on, without either, gets a random per-process key: sessions do not survive a restart.
SECRET_KEY = runtime.secret_key()
if SECRET_KEY is None:
    if "pytest" in sys.modules or DEBUG:
        import secrets

        SECRET_KEY = os.environ["SECRET_KEY"] = secrets.token_urlsafe(64)
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable (production), "
            f"or run `make run`, which generates one in {runtime.SECRET_KEY_FILE}."
        )
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# Served over HTTPS (HTTPS=1): redirect plain HTTP, Secure cookies, HSTS. Behind a proxy that terminates TLS,
# also set TLS_PROXY_HEADER=1 so Django trusts its X-Forwarded-Proto (only then: a client could forge it).
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("TLS_PROXY_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SAMESITE = "Lax"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "channels",
    "axes",
    "oms",
    "ems",
    "rfq",
    "tca",
    "fix",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ApiErrorMiddleware",  # JSON errors on /api/ (413, deep JSON, 500), 503 when the DB is down
    "config.middleware.InputRulesMiddleware",  # query strings and form fields: strict UTF-8, no control characters
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the 429 page (oms.signin).
    "axes.middleware.AxesMiddleware",
]

# A bulk of 5,000 orders is about 1.5 MB of JSON; larger bodies answer 413 (config.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# What the ASGI server lets through to Django (config.body_limits, before anything reads the body): any body up
# to DATA_UPLOAD_MAX_MEMORY_SIZE; a multipart upload to one of UPLOAD_PATHS up to UPLOAD_MAX_BYTES (the TCA
# import's 20 MB file plus its envelope); a multipart body of at most MULTIPART_MAX_PARTS parts.
UPLOAD_PATHS = ("/api/tca/executions/import/", "/tca/imports/")
UPLOAD_MAX_BYTES = 20 * 1024 * 1024 + 64 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000  # Django's defaults, written out: MULTIPART_MAX_PARTS follows them
DATA_UPLOAD_MAX_NUMBER_FILES = 100
MULTIPART_MAX_PARTS = DATA_UPLOAD_MAX_NUMBER_FIELDS + DATA_UPLOAD_MAX_NUMBER_FILES

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
                "oms.context_processors.role_context",
            ],
        },
    },
]

# Connections: a bounded pool per process (psycopg_pool through Django's "pool" option). the ASGI server runs
# each request's sync code in a thread of its own, so without a cap 50 concurrent clients opened 50+ connections
# and PostgreSQL answered "too many clients". With the pool a request waits up to DB_POOL_TIMEOUT seconds
# for a connection, then gets a JSON 503 with Retry-After (config.middleware). Budget: processes x
# DB_POOL_MAX_SIZE must stay below PostgreSQL's max_connections (docs/operations.md, "Scaling out"; PgBouncer beyond).
# The pytest process itself uses plain, non-persistent connections (its worker threads of async code would
# otherwise keep the test database open past teardown); the servers a test starts use the pool.
_POOL_DEFAULT = "0" if "pytest" in sys.modules else "10"
DB_POOL_MAX_SIZE = int(os.environ.get("DB_POOL_MAX_SIZE", _POOL_DEFAULT))
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
DATABASES["default"].setdefault("OPTIONS", {})
if DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections; Django must not
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
        "max_idle": 300,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "0" if "pytest" in sys.modules else "60"))
# Server-side parameter binding: psycopg sends values apart from the SQL (faster bulk inserts, prepared plans).
DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
# Prepared statements after a query's 5th run on a connection: the intake path repeats the same few
# statements for every order, so PostgreSQL parses and plans each once per connection. (Set
# DB_PREPARE_THRESHOLD=none behind a transaction-pooling PgBouncer.)
_prepare = os.environ.get("DB_PREPARE_THRESHOLD", "5")
DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", None if _prepare.lower() == "none" else int(_prepare))
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_smart_oms")}

REDIS_URL = os.environ["REDIS_URL"]

# The cache holds what every process must share: API throttle counters and the sign-in audit's
# once-per-lock flags. Same Redis as Celery and channels, kept apart by its key prefix.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "oms-cache"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / ".data" / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise wants it; `collectstatic` fills it for production
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from static/ without collectstatic in development and tests

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "blotter"
LOGOUT_REDIRECT_URL = "login"

# Sign-in lockout (django-axes; docs/security.md, "Sign-in lockout and API throttles"). SIGNIN_FAILURE_LIMIT failed
# sign-ins for one username, or from one address, lock that username / address for SIGNIN_COOLOFF_MINUTES
# after the last failure, on /login/, the admin's login and POST /api/auth/token/. LockoutBackend refuses
# before ModelBackend hashes the password. Unlock early: `manage.py axes_reset_username NAME` / `axes_reset_ip IP`.
AUTHENTICATION_BACKENDS = ["oms.signin.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("SIGNIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("SIGNIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
# Refused attempts are not counted: the lock lifts one cool-off after the last real failure, and a locked
# client hammering on costs no database write.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Kept False (the default) on purpose: with it, one good sign-in to an attacker's own account would wipe
# the failures counted against its address, guesses at other accounts included.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "oms.signin.client_ip"
AXES_LOCKOUT_CALLABLE = "oms.signin.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins and sign-outs are in the audit trail already

# API tokens expire API_TOKEN_TTL_HOURS after they were issued (0: never); POST /api/auth/token/ then
# issues a new one. Admins rotate or revoke tokens in the admin or with `manage.py api_token`.
_token_ttl_hours = float(os.environ.get("API_TOKEN_TTL_HOURS", str(30 * 24)))
API_TOKEN_TTL = timedelta(hours=_token_ttl_hours) if _token_ttl_hours > 0 else None

# Behind a load balancer or reverse proxy that appends the client's address to X-Forwarded-For, set
# TRUSTED_PROXY_COUNT to the number of proxies; 0 (the default) uses REMOTE_ADDR and ignores the header,
# which a client can write itself. Per-address throttles and lockouts use this one notion of the address.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oms.api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "oms.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "oms.api.errors.exception_handler",
    # Throttles count in the shared Redis cache (oms.api.throttles). The user rate sits far above an API
    # client's order intake (bench/intake.py: ~450 requests/s with one token on a 2-core machine); bulk
    # requests carry 1,000 orders each. Orders per second per source are capped by pre-trade risk anyway.
    "DEFAULT_THROTTLE_CLASSES": ["oms.api.throttles.AnonThrottle", "oms.api.throttles.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "120/min"),
        "user": os.environ.get("API_THROTTLE_USER", "5000/s"),
        "auth_token": os.environ.get("API_THROTTLE_AUTH_TOKEN", "10/min"),  # password exchanges per address
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Smart Trading OMS/EMS API",
    "DESCRIPTION": "Order intake, reference data, parent orders, fills, positions, the kill switch and the audit trail. Errors are JSON with a stable `code` and a `detail`.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the vendored sidecar package (served by whitenoise), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "oms.states.OrderStatus.choices",
        "ExecStatusEnum": "ems.states.ExecStatus.choices",
        "SwitchableStrategyEnum": "ems.algos.ALGORITHM_CHOICES",
        "StrategyEnum": "oms.models.Strategy.choices",
        "RfqStatusEnum": "rfq.states.RfqStatus.choices",
        # Two choice sets are called "mode": an RFQ's (keeps its name) and a what-if's DIRECT routing mode.
        "ModeEnum": "rfq.models.RfqMode.choices",
        "RoutingModeEnum": "tca.api.serializers.ROUTING_MODES",
    },
    # Every operation declares its error answers with the shared ErrorResponse shape (oms.api.schema).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],  # the API is JSON (forms are the browser's pages)
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "oms.api.schema.declare_error_responses"],
}

# Row history (django-pghistory): copied foreign keys are not indexed (each index costs every order
# written); the link to the order itself is.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("CHANNELS_PREFIX", "asgi")},
    }
}

# The audit log's Merkle tree (docs/audit.md): the sealer process (manage.py audit_sealer) looks for committed events
# every AUDIT_SEAL_POLL_S, links them into the tree and signs a tree head with Ed25519, in runs of AUDIT_SEAL_EVERY_S
# (its lease on the sealer's lock); beat's task seals every AUDIT_SEAL_EVERY_S too, in case no sealer process runs.
# Verification reports any event still unsealed AUDIT_SEAL_BOUND_S after it was written. AUDIT_SIGNING_KEY: the
# current key's 32-byte seed in hex; empty: derived from SECRET_KEY under key id "dev" (development only). Retired
# keys stay listed as public keys ("id:hex,id:hex") so their heads still verify.
AUDIT_SEAL_EVERY_S = float(os.environ.get("AUDIT_SEAL_EVERY_S", "1"))
AUDIT_SEAL_POLL_S = float(os.environ.get("AUDIT_SEAL_POLL_S", "0.2"))
AUDIT_SEAL_BOUND_S = float(os.environ.get("AUDIT_SEAL_BOUND_S", "5"))
AUDIT_SEAL_BATCH = int(os.environ.get("AUDIT_SEAL_BATCH", "5000"))
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY", "")
AUDIT_SIGNING_KEY_ID = os.environ.get("AUDIT_SIGNING_KEY_ID") or ("ed1" if AUDIT_SIGNING_KEY else "dev")
AUDIT_SIGNING_RETIRED_KEYS = dict(i.split(":", 1) for i in os.environ.get("AUDIT_SIGNING_RETIRED_KEYS", "").split(",") if ":" in i)

# Celery: reliable delivery. A task is acknowledged only after it ran (acks_late) and is handed back to
# the broker if the worker dies mid-task; one message at a time per worker process; countdowns stay far
# below the visibility timeout so Redis never re-delivers a task that is merely scheduled.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "audit-verify-hourly": {"task": "oms.tasks.audit_verify_task", "schedule": 3600.0},
    # Anchors the audit chain's head outside its table every minute; a run that waited past the next is dropped.
    "audit-checkpoint-every-minute": {"task": "oms.tasks.audit_checkpoint_task", "schedule": 60.0, "options": {"expires": 55.0}},
    # Seals the committed audit events into the Merkle tree and signs a head; a run that waited past the next is dropped.
    "audit-seal": {"task": "oms.tasks.audit_seal_task", "schedule": AUDIT_SEAL_EVERY_S, "options": {"expires": AUDIT_SEAL_EVERY_S}},
    # The risk reference price follows the market model; a refresh that waited past the next one is dropped.
    "market-prices-refresh": {"task": "ems.tasks.market_prices_refresh", "schedule": 2.0, "options": {"expires": 2.0}},
    # The EMS: group accepted orders into parents (also run just after each acceptance) and re-enqueue the
    # tick of any working parent whose last tick is older than EMS_STALE_TICK_S (a worker died mid-chain).
    "ems-aggregation-cycle": {"task": "ems.tasks.aggregation_cycle", "schedule": 1.0, "options": {"expires": 1.0}},
    "ems-instrument-days-sweep": {"task": "ems.tasks.instrument_days_sweep", "schedule": 2.0, "options": {"expires": 2.0}},
    "ems-orders-expire-day": {"task": "ems.tasks.orders_expire_day", "schedule": 10.0, "options": {"expires": 10.0}},
    # RFQ windows are closed by a task enqueued for their end; this closes any whose task was lost.
    "rfq-sweep": {"task": "rfq.tasks.rfqs_sweep", "schedule": 1.0, "options": {"expires": 1.0}},
    # TCA: closed parents' benchmarks and costs are computed once their markouts have matured; the books
    # (fills, allocations, orders, internal crosses) are reconciled and the result audited.
    "tca-refresh": {"task": "tca.tasks.tca_refresh", "schedule": 5.0, "options": {"expires": 5.0}},
    "tca-reconcile": {"task": "tca.tasks.reconciliation_run", "schedule": 300.0, "options": {"expires": 300.0}},
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Audit checkpoints (docs/audit.md): the HMAC key that signs the chain's head lives here,
# never in the database. Empty: derived from SECRET_KEY under key id "dev" (development only; every process
# must then share SECRET_KEY). Retired keys stay listed ("id:key,id:key") so what they signed still verifies.
# The checkpoint file is the copy kept outside the database: in a scale-out, storage every process shares.
AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", "")
AUDIT_HMAC_KEY_ID = os.environ.get("AUDIT_HMAC_KEY_ID") or ("k1" if AUDIT_HMAC_KEY else "dev")
AUDIT_HMAC_RETIRED_KEYS = dict(i.split(":", 1) for i in os.environ.get("AUDIT_HMAC_RETIRED_KEYS", "").split(",") if ":" in i)
AUDIT_CHECKPOINT_FILE = Path(os.environ.get("AUDIT_CHECKPOINT_FILE") or runtime.DATA_DIR / "audit" / "checkpoints.jsonl")

# FIX gateway (fix.engine): the engine's file message store, its working copy of what PostgreSQL keeps (fix.store);
# rebuilt from the database when missing. One folder per gateway process.
FIX_STORE_DIR = Path(os.environ.get("FIX_STORE_DIR") or runtime.DATA_DIR / "fix" / "store")
# The address fix_gateway listens on (--host): this machine only unless told otherwise (0.0.0.0: every interface).
FIX_GATEWAY_HOST = os.environ.get("FIX_GATEWAY_HOST", "127.0.0.1")

# EMS: how often a working parent's algorithm is ticked (wall seconds; resting children fill between ticks
# and are booked at the next one), after how long without a tick the sweep re-enqueues it, and how long
# the aggregation cycle waits after an acceptance so that orders arriving together share a parent.
EMS_TICK_S = float(os.environ.get("EMS_TICK_S", "0.5"))
EMS_STALE_TICK_S = float(os.environ.get("EMS_STALE_TICK_S", "3"))
# How long a worker owns an instrument-day after its last tick: past it, any worker may take the instrument-day over.
EMS_LEASE_S = float(os.environ.get("EMS_LEASE_S", "3"))
# The sweep evens out the instrument-days among the workers that answer a ping (a worker added mid-day takes its share).
EMS_REBALANCE = env_bool("EMS_REBALANCE", True)
EMS_AGGREGATION_DELAY_S = float(os.environ.get("EMS_AGGREGATION_DELAY_S", "0.5"))
# Celery queue of the parents' ticks (empty: the default queue); tests give each worker its own.
EMS_QUEUE = os.environ.get("EMS_QUEUE") or None

# RFQ platform: the response window (wall seconds), how many providers a request goes to, the threshold an
# EMS-started request executes within (bps from the mid at request) and how many requests the EMS makes
# for one parent before it works the rest with IS.
RFQ_WINDOW_S = float(os.environ.get("RFQ_WINDOW_S", "5"))
RFQ_PROVIDERS_PER_REQUEST = int(os.environ.get("RFQ_PROVIDERS_PER_REQUEST", "4"))
RFQ_AUTO_THRESHOLD_BPS = float(os.environ.get("RFQ_AUTO_THRESHOLD_BPS", "50"))
RFQ_MAX_ROUNDS = int(os.environ.get("RFQ_MAX_ROUNDS", "2"))

# Group commit (oms/services/intake_group.py, docs/operations.md#group-commit): single orders that concurrent
# requests of one web process submit at the same moment are written in one transaction, up to this many, and each
# is answered as if it were written alone. INTAKE_GROUP_COMMIT=0 writes each in a transaction of its own.
INTAKE_GROUP_COMMIT = env_bool("INTAKE_GROUP_COMMIT", True)
INTAKE_GROUP_MAX_ORDERS = int(os.environ.get("INTAKE_GROUP_MAX_ORDERS", "64"))

# Market simulation: wall time -> market time. 60x: a 6.5 h trading day passes in 6.5 minutes.
SIM_SPEED = float(os.environ.get("SIM_SPEED", "60"))
SIM_SEED = int(os.environ.get("SIM_SEED", "20261121"))
# The risk-free rate (continuous, annual) the simulated options market prices with (ems.option_market).
OPTIONS_RATE = float(os.environ.get("OPTIONS_RATE", "0.04"))
# Wall-clock instant (unix seconds) at which simulated day 0 opens; default: the start of the current UTC day.
SIM_ANCHOR = float(os.environ["SIM_ANCHOR"]) if os.environ.get("SIM_ANCHOR") else None
# Pre-trade risk measures orders against the live market mid while it is at most this old (wall seconds;
# refreshed every 2 s), else against the instrument's static reference price.
RISK_PRICE_MAX_AGE_S = int(os.environ.get("RISK_PRICE_MAX_AGE_S", "30"))

# Budgets of long computations (docs/tca.md). A what-if replay: at most this many loop events (reports and
# timers; parameters whose estimate passes it are refused up front), this many wall seconds, and this many
# running at once per user. Exports: an XLSX of more rows than this is refused (CSV streams any size).
WHAT_IF_MAX_EVENTS = int(os.environ.get("WHAT_IF_MAX_EVENTS", "60000"))
WHAT_IF_MAX_SECONDS = float(os.environ.get("WHAT_IF_MAX_SECONDS", "30"))
WHAT_IF_MAX_PER_USER = int(os.environ.get("WHAT_IF_MAX_PER_USER", "1"))
EXPORT_XLSX_MAX_ROWS = int(os.environ.get("EXPORT_XLSX_MAX_ROWS", "20000"))


# Logs (config/logs.py, docs/operations.md#logs): the console without the routine lines; every line in
# LOG_DIR/LOG_NAME.log when LOG_DIR is set (`make run`: .data/logs, one file per process).
LOGGING = logs.logging_config(
    level=os.environ.get("LOG_LEVEL", "INFO"), console_level=os.environ.get("LOG_CONSOLE_LEVEL", "INFO"),
    log_dir=os.environ.get("LOG_DIR") or None, name=os.environ.get("LOG_NAME", "app"),
    max_bytes=int(os.environ.get("LOG_FILE_MAX_BYTES", str(logs.FILE_MAX_BYTES))),
    backups=int(os.environ.get("LOG_FILE_BACKUPS", str(logs.FILE_BACKUPS))),
)
