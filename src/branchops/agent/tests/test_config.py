"""The agent's settings: a TOML file, the environment on top, loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchops.agent.config import ConfigError, load


def test_a_file_and_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("bo_abc\n")
    config_file = tmp_path / "agent.toml"
    config_file.write_text(
        f'server = "https://ops.example.com/"\ntoken_file = "{token_file}"\n'
        f'interval_s = 30\nbuffer_dir = "{tmp_path}/buf"\nbuffer_max_mb = 5\n'
    )
    config = load(config_file, {"BRANCHOPS_AGENT_INTERVAL_S": "15"})
    assert config.token == "bo_abc"
    assert config.interval_s == 15
    assert config.buffer_max_bytes == 5 * 1024 * 1024
    assert config.buffer_dir == tmp_path / "buf"
    assert config.push_url == "https://ops.example.com/api/v1/push/agent"


def test_the_environment_alone_is_enough() -> None:
    config = load(
        None, {"BRANCHOPS_AGENT_SERVER": "http://127.0.0.1:8000", "BRANCHOPS_AGENT_TOKEN": "t"}
    )
    assert config.interval_s == 60


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('server = "x"\ntoken = "t"', {}, "server must be an http"),
        ('server = "http://a"', {}, "token"),
        ('server = "http://a"\ntoken = "t"\ninterval_s = 1', {}, "interval_s must be between"),
        (
            'server = "http://a"\ntoken = "t"\ninterval_s = "often"',
            {},
            "interval_s must be a number",
        ),
        ('server = "http://a"\ntoken = "t"\nintervall = 5', {}, "unknown setting(s): intervall"),
        ("server = ", {}, "not valid TOML"),
        ('server = "http://a"\ntoken_file = "/nonexistent/t"', {}, "token_file"),
    ],
)
def test_bad_settings_fail_loudly(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    config_file = tmp_path / "agent.toml"
    config_file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(config_file, env)
    assert message in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml", {})
