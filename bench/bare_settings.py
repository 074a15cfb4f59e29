"""Settings of ``bench/intake.py``'s server: the product's, with ``bench.bare_drf`` (the product's URLs plus the
baseline endpoint) as the URL conf."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_drf"
