"""``migrate``, ``import`` and ``export`` with PostgreSQL, and a database that cannot be reached, as an operator
runs them: a separate process, settings from the environment only."""

from __future__ import annotations

from pathlib import Path

import orjson

from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.cli import ExitCode
from castbot_hikari.pg.migrate import migrations
from castbot_hikari.testing.pgcluster import free_port
from tests.apply.fakes import CONFIG, GUILD, USER, castbot_config
from tests.e2e.commands import TOKEN, castbot, closed_port_url, environment


def pg_env(url: str, **more: str) -> dict[str, str]:
    return environment(CASTBOT_STORE="postgres", CASTBOT_DATABASE_URL=url, **more)


def castbot_file(path: Path) -> dict[str, object]:
    doc: dict[str, object] = {
        str(GUILD): {
            "players": {"1": {"age": 24}},
            "applicationConfigs": {CONFIG: castbot_config()},
            "applications": {
                "42": {"userId": str(USER), "channelId": "42", "configId": CONFIG, "rankings": {"9": 4}},
                "43": {"userId": str(USER), "channelId": "43", "configId": CONFIG},  # CastBot's own twin
            },
        },
        "environmentConfig": {"liveDiscordLogging": True},
        META: {"schemaVersion": 1},
    }
    path.write_bytes(orjson.dumps(doc))
    return doc


def test_migrate_applies_the_schema_once(tmp_path: Path, pg_url: str) -> None:
    first = castbot("migrate", cwd=tmp_path, env=pg_env(pg_url))
    assert first.code == ExitCode.OK, first.err
    versions = [migration.version for migration in migrations()]
    assert f"applied {len(versions)} migration" in first.out
    assert all(version in first.out for version in versions)
    again = castbot("migrate", cwd=tmp_path, env=pg_env(pg_url))
    assert again.code == ExitCode.OK, again.err
    assert "already up to date" in again.out


def test_import_then_export_moves_the_file_both_ways_with_a_summary(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "castbot.json"
    doc = castbot_file(source)
    imported = castbot("import", str(source), cwd=tmp_path, env=pg_env(pg_url))
    assert imported.code == ExitCode.OK, imported.err
    assert "1 server, 1 Apply config, 2 applications, 0 unfinished applies" in imported.out
    refused = castbot("import", str(source), cwd=tmp_path, env=pg_env(pg_url))
    assert refused.code == ExitCode.DATA
    assert refused.err_lines == [refused.err_lines[0]]
    assert "already holds data; use --force" in refused.err
    (tmp_path / "out").mkdir()
    exported = castbot("export", str(tmp_path / "out"), cwd=tmp_path, env=pg_env(pg_url))
    assert exported.code == ExitCode.OK, exported.err
    assert "1 server, 1 Apply config, 2 applications" in exported.out
    assert orjson.loads((tmp_path / "out" / DATA_FILE).read_bytes()) == doc
    again = castbot("export", str(tmp_path / "out"), cwd=tmp_path, env=pg_env(pg_url))
    assert again.code == ExitCode.DATA  # never over an existing file without --force
    assert "already exists" in again.err
    # and back into a JSON data folder: the file is one `import` takes
    back = castbot("import", str(tmp_path / "out" / DATA_FILE), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert back.code == ExitCode.OK, back.err
    assert orjson.loads((tmp_path / "data" / DATA_FILE).read_bytes()) == doc


def test_an_unreachable_database_is_one_line_and_its_own_exit_code(tmp_path: Path) -> None:
    url = f"postgresql://castbot:hunter2@127.0.0.1:{free_port()}/castbot"
    for args, env in (
        (("migrate",), pg_env(url)),
        (("export", str(tmp_path / "x.json")), pg_env(url)),
        (("run",), pg_env(url, CASTBOT_TOKEN=TOKEN, CASTBOT_API_URL=closed_port_url())),
    ):
        result = castbot(*args, cwd=tmp_path, env=env)
        assert result.code == ExitCode.DATABASE_UNREACHABLE, (args, result.err)
        assert len(result.err_lines) == 1, result.err
        assert "could not use PostgreSQL at postgresql://castbot:***@127.0.0.1" in result.err
        assert "hunter2" not in result.err + result.out
        assert "Traceback" not in result.err
    assert not (tmp_path / "x.json").exists()
    assert not (tmp_path / "data").exists()  # postgres needs no data folder, and none was made


def test_postgres_commands_need_the_postgres_settings(tmp_path: Path) -> None:
    result = castbot("migrate", cwd=tmp_path, env=environment())
    assert result.code == ExitCode.USAGE
    assert "set CASTBOT_STORE=postgres" in result.err
    bad = castbot("migrate", cwd=tmp_path, env=environment(CASTBOT_STORE="postgres"))
    assert bad.code == ExitCode.USAGE
    assert bad.err_lines == ["castbot-hikari: error: " + bad.err_lines[0].removeprefix("castbot-hikari: error: ")]
    assert "needs CASTBOT_DATABASE_URL" in bad.err
