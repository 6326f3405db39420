"""Configuration loading shared by every Aloft service.

One YAML file holds a section per component (``admin:``, ``propeller:``, ``datacatalog:``, ``storage:``,
``database:``, ``logger:``, ``otel:`` ...). Each service declares the typed sections it reads; the loader
validates those strictly (unknown keys and wrong types are errors naming the key), rejects unknown top-level
sections, and applies ``ALOFT__SECTION__KEY=value`` environment overrides before validation.
"""

from aloft_config.loader import KNOWN_SECTIONS, ConfigError, load_config, load_raw
from aloft_config.redaction import redact, redact_text
from aloft_config.types import Duration, Section, parse_duration

__all__ = [
    "KNOWN_SECTIONS",
    "ConfigError",
    "Duration",
    "Section",
    "load_config",
    "load_raw",
    "parse_duration",
    "redact",
    "redact_text",
]
