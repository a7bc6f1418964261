"""Credentials at rest: encrypted, key rotation, key file created safely, errors that never leak secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ecom_pipeline.warehouse.credentials import ENV_SECRET_KEY, CredentialCipher, CredentialError, Secret

CREDS = {"consumer_key": "ck_live_abcdef123456", "consumer_secret": "cs_live_topsecret987"}


def test_round_trip_and_token_does_not_contain_plaintext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials stored in the warehouse must be unreadable without the key."""
    monkeypatch.delenv(ENV_SECRET_KEY, raising=False)
    cipher = CredentialCipher.from_env(tmp_path)
    token = cipher.encrypt(CREDS)
    assert "topsecret" not in token and "ck_live" not in token
    back = cipher.decrypt(token)
    assert {k: v.reveal() for k, v in back.items()} == CREDS
    assert back == CREDS  # Secret is still a str for the code that needs it


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A world-readable key file would expose every shop's credentials; a regenerated one would lose them."""
    monkeypatch.delenv(ENV_SECRET_KEY, raising=False)
    first = CredentialCipher.from_env(tmp_path / "home")
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "generated" in first.key_source and str(key_file) in first.key_source
    token = first.encrypt(CREDS)
    content = key_file.read_text()
    second = CredentialCipher.from_env(tmp_path / "home")
    assert key_file.read_text() == content
    assert "read from" in second.key_source
    assert second.decrypt(token) == CREDS


def test_wrong_key_error_says_key_mismatch_and_source_without_any_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Users must learn the key changed (and where it came from) without the message leaking keys or values."""
    monkeypatch.delenv(ENV_SECRET_KEY, raising=False)
    token = CredentialCipher.from_env(tmp_path).encrypt(CREDS)
    other_key = CredentialCipher.generate_key()
    monkeypatch.setenv(ENV_SECRET_KEY, other_key)
    cipher = CredentialCipher.from_env(tmp_path)
    with pytest.raises(CredentialError) as info:
        cipher.decrypt(token)
    message = str(info.value)
    assert "does not match" in message and ENV_SECRET_KEY in message
    for secret in [*CREDS.values(), other_key, (tmp_path / "secret.key").read_text().strip(), token]:
        assert secret not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_rotation_first_key_encrypts_all_keys_decrypt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Rotating the key must not make credentials stored under the old key unreadable."""
    old, new = CredentialCipher.generate_key(), CredentialCipher.generate_key()
    monkeypatch.setenv(ENV_SECRET_KEY, old)
    old_token = CredentialCipher.from_env(tmp_path).encrypt(CREDS)
    monkeypatch.setenv(ENV_SECRET_KEY, f"{new}, {old}")
    rotated = CredentialCipher.from_env(tmp_path)
    assert "2 keys" in rotated.key_source
    assert rotated.decrypt(old_token) == CREDS
    new_token = rotated.rotate(old_token)
    assert CredentialCipher(new).decrypt(new_token) == CREDS
    with pytest.raises(CredentialError):
        CredentialCipher(old).decrypt(new_token)


def test_invalid_key_is_reported_without_echoing_it() -> None:
    """A typo in ECOM_SECRET_KEY must fail clearly, not print the (partial) key into logs."""
    with pytest.raises(CredentialError) as info:
        CredentialCipher("not-a-real-key-value", key_source="test")
    assert "not-a-real-key-value" not in str(info.value)


def test_secret_never_prints_its_value() -> None:
    """Credentials passing through f-strings, logs or exception reprs must show *** only."""
    secret = Secret("hunter2")
    assert str(secret) == "***" and repr(secret) == "Secret('***')" and f"{secret}" == "***"
    assert "hunter2" not in repr({"password": secret})
    assert secret.reveal() == "hunter2"
