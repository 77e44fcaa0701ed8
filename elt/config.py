"""Settings from the environment, read in one place."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from elt.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = PROJECT_ROOT / "data" / "orders_sample.csv"
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data"
DEFAULT_BUSINESS_TIME_ZONE = "Europe/Amsterdam"
DEFAULT_MAX_REJECT_SHARE = 0.05
DEFAULT_SPARK_MASTER = "local[*]"
DEFAULT_SPARK_DRIVER_MEMORY = "2g"


@dataclass(frozen=True)
class Settings:
    """What a run needs to know about its surroundings."""

    database_url: str | None
    data_dir: Path
    spark_master: str
    spark_driver_memory: str
    business_time_zone: str
    max_reject_share: float


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from environment variables (see README, Configuration)."""
    env = os.environ if env is None else env
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=Path(env.get("ELT_DATA_DIR") or DEFAULT_DATA_DIR),
        spark_master=env.get("SPARK_MASTER") or DEFAULT_SPARK_MASTER,
        spark_driver_memory=env.get("SPARK_DRIVER_MEMORY") or DEFAULT_SPARK_DRIVER_MEMORY,
        business_time_zone=env.get("ELT_BUSINESS_TIME_ZONE") or DEFAULT_BUSINESS_TIME_ZONE,
        max_reject_share=_share(env.get("ELT_MAX_REJECT_SHARE"), DEFAULT_MAX_REJECT_SHARE),
    )


def _share(raw: str | None, default: float) -> float:
    """Parse a share between 0 and 1 (a trailing % is accepted: '5%' == 0.05)."""
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ConfigError(f"ELT_MAX_REJECT_SHARE must be a number between 0 and 1, got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ConfigError(f"ELT_MAX_REJECT_SHARE must be between 0 and 1, got {raw!r}")
    return value
