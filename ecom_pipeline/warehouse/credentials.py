"""Shop credentials at rest: Fernet-encrypted in ``integrations.credentials_encrypted``.

The key comes from ``ECOM_SECRET_KEY`` (production: a secret the orchestrator injects). It may hold several
comma-separated Fernet keys so keys can be rotated: the first encrypts, all of them decrypt, and
``CredentialCipher.rotate`` re-encrypts a token under the first. Without the variable (the embedded default) a key
is generated once into ``<home>/secret.key`` with mode 0600 and reused, so ``make demo`` needs no set-up; the
cipher says where its key came from (``key_source``) so the CLI can tell the user what to back up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

ENV_SECRET_KEY = "ECOM_SECRET_KEY"
KEY_FILE_NAME = "secret.key"


class CredentialError(Exception):
    """Credentials could not be decrypted or the key is unusable. Messages never contain key or secret material."""


class Secret(str):
    """A string that prints as ``***``: credentials can pass through code, logs and tracebacks without leaking.

    It is still a ``str`` for the code that needs the value (HTTP auth), and ``.reveal()`` makes that use explicit.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"

    def reveal(self) -> str:
        """The real value, for the one place that must send it (an Authorization header, a signature)."""
        return str.__str__(self)


def reveal(value: str) -> str:
    """The plain value of a credential, whether it is a :class:`Secret` or already a plain string."""
    return value.reveal() if isinstance(value, Secret) else value


def _parse_keys(raw: str, source: str) -> list[Fernet]:
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if not keys:
        raise CredentialError(f"no key found in {source}")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError) as exc:
            # Do not echo the key: say which one and why.
            raise CredentialError(
                f"key #{position} in {source} is not a valid Fernet key (32 url-safe base64 bytes): "
                f"generate one with `python -c 'from cryptography.fernet import Fernet; "
                f"print(Fernet.generate_key().decode())'`"
            ) from exc
    return fernets


class CredentialCipher:
    """Encrypts and decrypts credential dicts with one or more Fernet keys (first one encrypts)."""

    def __init__(self, keys: str | list[str], *, key_source: str = "the given key") -> None:
        raw = keys if isinstance(keys, str) else ",".join(keys)
        self.key_source = key_source
        self._fernet = MultiFernet(_parse_keys(raw, key_source))

    @classmethod
    def from_env(cls, home: Path) -> CredentialCipher:
        """The cipher from ``ECOM_SECRET_KEY``, else from ``<home>/secret.key`` (created once, mode 0600)."""
        env_value = os.environ.get(ENV_SECRET_KEY, "").strip()
        if env_value:
            count = len([k for k in env_value.split(",") if k.strip()])
            plural = f"{count} keys, the first encrypts" if count > 1 else "1 key"
            return cls(env_value, key_source=f"environment variable {ENV_SECRET_KEY} ({plural})")
        path = Path(home) / KEY_FILE_NAME
        created = _ensure_key_file(path)
        verb = "generated now and stored in" if created else "read from"
        source = f"key file {path} ({verb} it; back it up, without it stored credentials cannot be read)"
        return cls(path.read_text().strip(), key_source=source)

    @staticmethod
    def generate_key() -> str:
        """A new random Fernet key, as text."""
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, credentials: dict[str, Any]) -> str:
        """The Fernet token of ``credentials`` as JSON (Secret values are stored as their real value)."""
        plain = {k: (v.reveal() if isinstance(v, Secret) else v) for k, v in credentials.items()}
        return self._fernet.encrypt(json.dumps(plain, sort_keys=True).encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        """The credentials dict back from ``token``; string values come back wrapped in ``Secret``."""
        try:
            plain = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError):
            raise CredentialError(
                f"stored credentials cannot be decrypted: the secret key does not match the one they were "
                f"encrypted with (key from {self.key_source}). Restore the original key, or list it after the new "
                f"one in {ENV_SECRET_KEY} (comma-separated) to rotate, or reconnect the shop."
            ) from None
        data = json.loads(plain)
        return {k: (Secret(v) if isinstance(v, str) else v) for k, v in data.items()}

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the first key (after adding a new key in front of the old ones)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise CredentialError(f"cannot rotate: no key from {self.key_source} decrypts the token") from None


def _ensure_key_file(path: Path) -> bool:
    """Create ``path`` with a new key and mode 0600 unless it exists; True when created.

    Written to a temporary file then hard-linked into place, so concurrent first runs agree on one complete key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode("ascii") + "\n")
    os.chmod(tmp, 0o600)  # umask may have changed the mode: be explicit
    try:
        os.link(tmp, path)  # atomic and fails if another process won the race: readers never see a partial key
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True
