"""Where the lake and the inputs live: a local folder, or a prefix in an S3-compatible object store.

An ``s3://bucket/prefix`` location is an :class:`S3Path`: the few ``pathlib.Path`` operations the
lake code uses (``/``, ``name``, ``is_file``, ``read_text``, ``glob``...) done with object-store calls,
so that lake.py keeps one code path. Connection settings are never stored in a location: they are
read from the standard AWS environment variables when a call is made (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``,
``AWS_ALLOW_HTTP``), so no secret travels in a Prefect parameter, a pickled task argument, a log line
or a run record.

Delta commits on S3 are safe under concurrent writers through conditional put: delta-rs 1.x writes
each ``_delta_log/<version>.json`` with ``If-None-Match: *``, and the server refuses the second
writer of a version, which then retries on the next one. ``AWS_S3_ALLOW_UNSAFE_RENAME`` is never
set (it would let two writers overwrite each other's commit).
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

#: URL schemes a lake or an input may have; a location without one is a local path.
SUPPORTED_SCHEMES = ("s3",)
#: The AWS environment variables handed to delta-rs (which reads the same names itself).
AWS_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_PROFILE",
)
#: Variables whose value is a secret: never shown.
SECRET_ENVIRONMENT = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
#: How long one object-store call keeps retrying a server that does not answer: short, so that a
#: stopped server fails the run in seconds rather than object_store's default three minutes.
RETRY_TIMEOUT = timedelta(seconds=20)
MAX_RETRIES = 3
#: Bytes fetched per ranged GET when an input object is read as a stream.
READ_BUFFER_BYTES = 8 * 1024 * 1024


class StorageError(Exception):
    """A location that cannot be used; the message is one line naming it."""


def parse_location(text: str | os.PathLike[str] | S3Path) -> Path | S3Path:
    """A local path, or an ``s3://bucket/prefix`` location; other URL schemes are refused by name."""
    if isinstance(text, S3Path | Path):
        return text
    given = os.fspath(text)
    value = given.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or "/" in scheme or "\\" in scheme or not scheme.isascii() or not scheme.replace("+", "").isalnum():
        return Path(given)  # exactly as a Path of it was before object storage
    if scheme.lower() not in SUPPORTED_SCHEMES:
        supported = ", ".join(f"{s}://bucket/prefix" for s in SUPPORTED_SCHEMES)
        raise StorageError(
            f"unsupported location {value!r}: the scheme {scheme}:// is not supported "
            f"(use a local folder or {supported})"
        )
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise StorageError(f"location {value!r} names no bucket (s3://bucket/prefix)")
    return S3Path(bucket, key.strip("/"))


def is_remote(location: object) -> bool:
    """True for an object-store location."""
    return isinstance(location, S3Path)


def location_str(location: Path | S3Path) -> str:
    """How a location is shown and recorded: an absolute local path or its URL."""
    return str(location) if isinstance(location, S3Path) else str(location.resolve())


#: Settings a named profile of the shared AWS files provides: (file, key in the profile's section).
PROFILE_SETTINGS = {
    "AWS_ACCESS_KEY_ID": ("credentials", "aws_access_key_id"),
    "AWS_SECRET_ACCESS_KEY": ("credentials", "aws_secret_access_key"),
    "AWS_SESSION_TOKEN": ("credentials", "aws_session_token"),
    "AWS_REGION": ("config", "region"),
    "AWS_ENDPOINT_URL": ("config", "endpoint_url"),
}


def _profile_section(kind: str, profile: str) -> dict[str, str]:
    """One profile's section of ``~/.aws/credentials`` or ``~/.aws/config`` (empty when absent)."""
    variable, default = {
        "credentials": ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        "config": ("AWS_CONFIG_FILE", "~/.aws/config"),
    }[kind]
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(Path(os.environ.get(variable) or default).expanduser(), encoding="utf-8")
    except configparser.Error:
        return {}
    # The config file names non-default profiles "profile NAME"; the credentials file does not.
    section = profile if kind == "credentials" or profile == "default" else f"profile {profile}"
    return dict(parser[section]) if parser.has_section(section) else {}


def aws_settings() -> dict[str, str]:
    """The ``AWS_*`` settings in force: the environment first, completed from the profile
    (``AWS_PROFILE``, else ``default``) of the shared credentials and config files."""
    settings = {name: value for name in AWS_ENVIRONMENT if (value := os.environ.get(name, ""))}
    profile = settings.get("AWS_PROFILE", "default")
    sections = {kind: _profile_section(kind, profile) for kind in ("credentials", "config")}
    for name, (kind, key) in PROFILE_SETTINGS.items():
        if name not in settings and (value := sections[kind].get(key, "")):
            settings[name] = value
    return settings


def storage_options() -> dict[str, str]:
    """delta-rs storage options for S3 from the environment or profile, with conditional-put commits."""
    options = {name: value for name, value in aws_settings().items() if name != "AWS_PROFILE"}
    # S3-compatible servers (SeaweedFS, MinIO, R2) support If-None-Match/If-Match: commits are safe.
    options.setdefault("conditional_put", "etag")
    options.setdefault("max_retries", str(MAX_RETRIES))
    options.setdefault("retry_timeout", f"{int(RETRY_TIMEOUT.total_seconds())}s")
    return options


def redact(text: str) -> str:
    """``text`` with the values of secret settings (environment or profile) blanked out."""
    settings = aws_settings()
    for name in SECRET_ENVIRONMENT:
        if secret := settings.get(name):
            text = text.replace(secret, "***")
    return text


_stores: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
_stores_guard = threading.Lock()


def object_store(bucket: str) -> Any:
    """An obstore S3 store for the bucket, configured from the environment (cached per settings)."""
    from obstore.store import S3Store

    aws = aws_settings()
    settings = tuple(sorted(aws.items()))
    with _stores_guard:
        store = _stores.get((bucket, settings))
        if store is None:
            client = {"allow_http": aws.get("AWS_ALLOW_HTTP", "").lower() == "true"}
            retry = {"max_retries": MAX_RETRIES, "retry_timeout": RETRY_TIMEOUT}
            # What a profile provides is passed explicitly; the environment is read by the store itself.
            from_profile = {
                name.lower(): value
                for name, value in aws.items()
                if name in PROFILE_SETTINGS and name not in os.environ
            }
            store = S3Store(bucket, config=from_profile, client_options=client, retry_config=retry)  # type: ignore[arg-type]
            _stores[(bucket, settings)] = store
        return store


@dataclass(frozen=True)
class S3Path:
    """An object or a prefix in an S3 bucket, with the part of the ``Path`` API the lake code uses."""

    bucket: str
    key: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    def __truediv__(self, name: str | os.PathLike[str]) -> S3Path:
        part = str(name).strip("/")
        return S3Path(self.bucket, f"{self.key}/{part}" if self.key else part)

    @property
    def name(self) -> str:
        """The last part of the key."""
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        """The key's extension (``.txt``)."""
        return PurePosixPath(self.key).suffix

    @property
    def parent(self) -> S3Path:
        """The enclosing prefix."""
        parent = str(PurePosixPath(self.key).parent)
        return S3Path(self.bucket, "" if parent == "." else parent)

    @property
    def store(self) -> Any:
        """The obstore store of the bucket."""
        return object_store(self.bucket)

    def with_name(self, name: str) -> S3Path:
        """The sibling object ``name``."""
        return self.parent / name

    def resolve(self) -> S3Path:
        """Itself (a URL is already absolute)."""
        return self

    def absolute(self) -> S3Path:
        """Itself (a URL is already absolute)."""
        return self

    def as_uri(self) -> str:
        """The ``s3://`` URL."""
        return str(self)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing: prefixes exist as soon as an object is under them."""

    def _prefix(self) -> str:
        return f"{self.key}/" if self.key else ""

    def head(self) -> dict[str, Any] | None:
        """The object's metadata (size, e_tag, last_modified), or None when there is no such object."""
        import obstore
        from obstore.exceptions import NotFoundError

        if not self.key:
            return None
        try:
            meta: dict[str, Any] = dict(obstore.head(self.store, self.key))
        except (NotFoundError, FileNotFoundError):
            return None
        return meta

    def is_file(self) -> bool:
        """True when an object has exactly this key."""
        return self.head() is not None

    def is_dir(self) -> bool:
        """True when at least one object lies under this prefix."""
        import obstore

        return any(chunk for chunk in obstore.list(self.store, self._prefix(), chunk_size=1))

    def exists(self) -> bool:
        """An object or a non-empty prefix."""
        return self.is_file() or self.is_dir()

    def read_bytes(self) -> bytes:
        """The object's bytes; FileNotFoundError when there is none."""
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return bytes(obstore.get(self.store, self.key).bytes())
        except NotFoundError as error:
            raise FileNotFoundError(f"{self}: no such object") from error

    def read_text(self, encoding: str = "utf-8") -> str:
        """The object decoded as text."""
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        """Put the object (a put is atomic: readers see the old or the new bytes)."""
        import obstore

        obstore.put(self.store, self.key, data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        """Put the text as the object."""
        self.write_bytes(text.encode(encoding))

    def create(self, data: bytes) -> str | None:
        """Put the object only if there is none (If-None-Match); its e_tag, or None when one exists."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            return str(obstore.put(self.store, self.key, data, mode="create")["e_tag"])
        except (AlreadyExistsError, PreconditionError):
            return None

    def replace_if(self, data: bytes, e_tag: str) -> str | None:
        """Overwrite the object only if it is still version ``e_tag`` (If-Match); the new e_tag or None."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError

        try:
            result = obstore.put(self.store, self.key, data, mode={"e_tag": e_tag})
        except (AlreadyExistsError, PreconditionError, NotFoundError):
            return None
        return str(result["e_tag"])

    def open(self, mode: str = "rb") -> ObjectReader:
        """Read the object as a binary stream; errors are OSErrors naming it (as for a local file)."""
        if mode != "rb":
            raise ValueError(f"{self}: objects are opened for reading bytes only (mode 'rb')")
        import obstore

        try:
            return ObjectReader(self, obstore.open_reader(self.store, self.key, buffer_size=READ_BUFFER_BYTES))
        except Exception as error:
            raise object_error(self, error) from error

    def upload(self, local: Path) -> None:
        """Put a local file as this object (multipart when large)."""
        import obstore

        obstore.put(self.store, self.key, local)

    def download(self, local: Path) -> None:
        """Copy the object into a local file, streaming."""
        import obstore

        try:
            result = obstore.get(self.store, self.key)
            with local.open("wb") as handle:
                for chunk in result.stream(min_chunk_size=READ_BUFFER_BYTES):
                    handle.write(chunk)
        except Exception as error:
            raise object_error(self, error) from error

    def unlink(self, missing_ok: bool = False) -> None:
        """Delete the object."""
        import obstore

        if not missing_ok and not self.is_file():
            raise FileNotFoundError(f"{self}: no such object")
        obstore.delete(self.store, self.key)

    def walk_objects(self) -> Iterator[tuple[S3Path, dict[str, Any]]]:
        """Every object under this prefix, at any depth, with its metadata."""
        import obstore

        for chunk in obstore.list(self.store, self._prefix()):
            for meta in chunk:
                yield S3Path(self.bucket, str(meta["path"])), dict(meta)

    def iterdir(self) -> Iterator[S3Path]:
        """Objects and sub-prefixes directly under this prefix."""
        import obstore

        listed = obstore.list_with_delimiter(self.store, self._prefix() or None)
        for prefix in listed["common_prefixes"]:
            yield S3Path(self.bucket, str(prefix).rstrip("/"))
        for meta in listed["objects"]:
            if str(meta["path"]).rstrip("/") != self.key:  # SeaweedFS lists an emptied prefix as itself
                yield S3Path(self.bucket, str(meta["path"]))

    def glob(self, pattern: str) -> Iterator[S3Path]:
        """Direct children whose name matches ``pattern`` (one level, like ``Path.glob('*.json')``)."""
        return (child for child in self.iterdir() if fnmatch.fnmatchcase(child.name, pattern))

    def rmtree(self) -> None:
        """Delete every object under this prefix."""
        import obstore

        keys = [str(path.key) for path, _ in self.walk_objects()]
        for start in range(0, len(keys), 1000):
            obstore.delete(self.store, keys[start : start + 1000])


class ObjectReader:
    """A binary stream over an object with the file methods the decoder uses (``read``, ``with``)."""

    def __init__(self, path: S3Path, reader: Any) -> None:
        self._path = path
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest when negative); OSError naming the object on failure."""
        try:
            return bytes(self._reader.read(None if size < 0 else size))
        except Exception as error:
            raise object_error(self._path, error) from error

    def close(self) -> None:
        """Release the reader."""
        self._reader.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def object_error(path: S3Path, error: BaseException) -> OSError:
    """An object-store failure as an OSError of one line naming the object (missing key, denied...)."""
    from obstore.exceptions import NotFoundError, PermissionDeniedError, UnauthenticatedError

    if isinstance(error, NotFoundError | FileNotFoundError):
        return FileNotFoundError(f"{path}: no such object")
    if isinstance(error, PermissionDeniedError | UnauthenticatedError | PermissionError):
        return PermissionError(f"{path}: access denied ({s3_error_summary(error)})")
    return OSError(f"{path}: {s3_error_summary(error)}")


def s3_error_summary(error: BaseException) -> str:
    """The useful part of an object-store error: the S3 error code and HTTP status when the server sent
    them, else the first line; never a secret."""
    text = str(error)
    code = re.search(r"<Code>([^<]+)</Code>", text)
    status = re.search(r"status code: (\d{3})", text)
    if code:
        return code.group(1) + (f" (HTTP {status.group(1)})" if status else "")
    return plain_error(error)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain_error(error: BaseException) -> str:
    """An error's message as one plain line: no colour codes, no Rust debug dump, no secret.

    delta-rs and obstore errors span lines (a chain of causes, then ``Debug source: ...``); the
    chain is kept, joined with arrows, the dump dropped.
    """
    text = _ANSI.sub("", str(error)).split("\n\nDebug source:", 1)[0]
    parts = [part.strip(" ↳") for part in text.splitlines()]
    line = " ".join(part for part in parts if part)
    return redact(line or type(error).__name__)
