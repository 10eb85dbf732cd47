"""akhbar's settings: one object, filled from the command line, ``AKHBAR_*`` variables, ``akhbar.toml``, defaults.

Precedence, highest first: command-line options, environment variables (``AKHBAR_LAKE``,
``AKHBAR_TAXONOMY``, ``AKHBAR_RUNNER``, ``AKHBAR_DASK_WORKERS``, ``AKHBAR_LANGUAGE_BACKEND``,
``AKHBAR_PREFECT_HOME``), an ``akhbar.toml`` in the working directory (top-level keys named like the
fields), the defaults. One name per idea: setting ``x_y`` is option ``--x-y`` and variable ``AKHBAR_X_Y``.
:func:`load_settings` also says where each effective value came from, which ``akhbar config`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from akhbar.settings import BATCH_MAX_BYTES, BATCH_MAX_FILES
from akhbar.storage import S3Path, StorageError, parse_location

CONFIG_FILE = "akhbar.toml"
ENV_PREFIX = "AKHBAR_"

SOURCE_DEFAULT = "default"
SOURCE_FILE = CONFIG_FILE
SOURCE_ENV = "environment"
SOURCE_CLI = "command line"


class ConfigError(ValueError):
    """Settings that cannot be used; the message names the setting, its value and where it came from."""


class Settings(BaseSettings):
    """Every setting akhbar reads."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        # An empty AKHBAR_X= means "unset", not Path("") (which would be the working directory).
        env_ignore_empty=True,
        toml_file=CONFIG_FILE,
        extra="forbid",
        frozen=True,
        validate_default=True,
        arbitrary_types_allowed=True,  # an s3:// lake is an S3Path
    )

    #: A local folder or ``s3://bucket/prefix`` (akhbar/storage.py).
    lake: Path | S3Path = Path("data/lake")
    #: None: the taxonomy packaged with akhbar (akhbar/taxonomy.toml).
    taxonomy: Path | None = None
    runner: Literal["thread", "dask"] = "thread"
    #: Worker processes of the local Dask cluster ``--runner dask`` starts (not used with --dask-address).
    dask_workers: int = Field(default=2, ge=1)
    language_backend: Literal["langdetect", "fasttext"] = "langdetect"
    #: None: Prefect's own default (PREFECT_HOME, else ~/.prefect).
    prefect_home: Path | None = None
    #: A batch (one chain of task runs) holds at most this many input bytes and files.
    batch_max_bytes: int = Field(default=BATCH_MAX_BYTES, gt=0)
    batch_max_files: int = Field(default=BATCH_MAX_FILES, gt=0)

    @field_validator("lake", mode="before")
    @classmethod
    def _lake_not_empty(cls, value: object) -> object:
        """An empty lake path would silently be the working directory (Path("") is ".")."""
        if isinstance(value, str | Path) and not str(value).strip():
            raise ValueError("the lake path must not be empty")
        if isinstance(value, str):
            try:
                return parse_location(value)
            except StorageError as error:
                raise ValueError(str(error)) from error
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line (init arguments), then environment, then akhbar.toml; no .env or secrets files."""
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings in force and, per field, the source that set it."""

    settings: Settings
    sources: dict[str, str]

    def rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) per field, in declaration order; None shows as its meaning."""
        meaning = {"taxonomy": "(packaged taxonomy)", "prefect_home": "(Prefect's default)"}
        rows = []
        for name in Settings.model_fields:
            value = getattr(self.settings, name)
            shown = meaning.get(name, "") if value is None else str(value)
            rows.append((name, shown, describe_source(name, self.sources[name])))
        return rows


def env_name(field: str) -> str:
    """The environment variable of a setting."""
    return f"{ENV_PREFIX}{field.upper()}"


def describe_source(field: str, source: str) -> str:
    """Where a value came from, naming the variable when it is the environment."""
    return f"{SOURCE_ENV} ({env_name(field)})" if source == SOURCE_ENV else source


def load_settings(overrides: Mapping[str, Any] | None = None) -> EffectiveSettings:
    """The effective settings; ``overrides`` are command-line values (None means "not given")."""
    given = {name: value for name, value in (overrides or {}).items() if value is not None}
    try:
        from_file = TomlConfigSettingsSource(Settings)()
    except ValueError as error:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"{Path.cwd() / CONFIG_FILE}: {error}") from error
    from_env = EnvSettingsSource(Settings)()
    sources = {name: SOURCE_DEFAULT for name in Settings.model_fields}
    # Lowest precedence first, so a higher source overwrites a lower one's claim.
    for source, values in ((SOURCE_FILE, from_file), (SOURCE_ENV, from_env), (SOURCE_CLI, given)):
        sources.update(dict.fromkeys((name for name in values if name in sources), source))
    try:
        settings = Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        # A key unknown to Settings can only have come from akhbar.toml (the env source reads known fields).
        where = describe_source(field, sources.get(field, SOURCE_FILE))
        raise ConfigError(f"setting {field!r} = {first.get('input')!r} from {where}: {first['msg']}") from error
    return EffectiveSettings(settings, sources)
