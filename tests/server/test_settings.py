"""Settings precedence: flag > environment > config file > default."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from jobtrail.base.errors import InputError
from jobtrail.server import settings


def args(**flags: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    ns = parser.parse_args([])
    for key, value in flags.items():
        setattr(ns, key, value)
    return ns


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("flag", "env", "config", "expected"),
    [
        ("flag", "env", "config", "flag"),
        (None, "env", "config", "env"),
        (None, None, "config", "config"),
        (None, None, None, settings.BY_NAME["store"].default),
    ],
)
def test_precedence(
    in_tmp: Path, flag: str | None, env: str | None, config: str | None, expected: str
) -> None:
    if config:
        (in_tmp / "jobtrail.toml").write_text(f'store = "{config}"\n')
    environ = {"JOBTRAIL_STORE": env} if env else {}
    assert settings.resolve(args(store=flag), environ)["store"] == expected


def test_types_and_normalisation(in_tmp: Path) -> None:
    values = settings.resolve(args(batch_size="250", base_url="http://example.org/jt"), {})
    assert values["batch_size"] == 250
    assert values["base_url"] == "http://example.org/jt/"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("nonsense = 1\n", "unknown setting(s) in jobtrail.toml: nonsense"),
        ("store = \n", "cannot read config file jobtrail.toml"),
        ('base_url = "ftp://x"\n', "base URL must be http(s)"),
        ('batch_size = "many"\n', "bad value for batch_size"),
    ],
)
def test_bad_config_is_a_clear_error(in_tmp: Path, toml: str, message: str) -> None:
    (in_tmp / "jobtrail.toml").write_text(toml)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings.resolve(args(), {})


def test_config_file_named_by_the_environment(in_tmp: Path) -> None:
    (in_tmp / "other.toml").write_text('store = "memory:"\n')
    assert settings.resolve(args(), {"JOBTRAIL_CONFIG": "other.toml"})["store"] == "memory:"
