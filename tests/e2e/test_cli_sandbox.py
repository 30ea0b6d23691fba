"""``castbot-hikari sandbox`` as a newcomer runs it: its own process, its options checked, its data honest."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.cli import ExitCode
from tests.e2e.commands import castbot, environment, read_until, start, stop

FAST = ("--channel-latency", "0", "--message-latency", "0")


@pytest.mark.parametrize("content", [b'{"123": {"applications": {"9": {"userId": "1"}}}}', b"{corrupt"])
def test_a_data_dir_holding_data_is_refused_and_left_as_it_was(tmp_path: Path, content: bytes) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / DATA_FILE).write_bytes(content)
    result = castbot("sandbox", "--data-dir", str(data_dir), *FAST, cwd=tmp_path)
    assert result.code == ExitCode.DATA
    (line,) = result.err_lines  # before: the file was overwritten with simulated servers, no backup
    assert f"--data-dir {data_dir} already holds {DATA_FILE}" in line
    assert "nothing was changed" in line
    assert (data_dir / DATA_FILE).read_bytes() == content
    assert sorted(p.name for p in data_dir.iterdir()) == [DATA_FILE]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clicks", "0"], "--clicks: must be at least 1, got '0'"),
        (["--clicks", "-1"], "--clicks: must be at least 1, got '-1'"),
        (["--servers", "0"], "--servers: must be at least 1, got '0'"),
        (["--clicks", "many"], "--clicks: expected a whole number, got 'many'"),
        (["--message-latency", "slow"], "--message-latency: expected seconds like 0.5-1.0"),
        (["--channel-latency", "2-1"], "--channel-latency: expected 0 <= min <= max"),
    ],
)
def test_bad_values_are_refused_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = castbot("sandbox", *args, cwd=tmp_path)
    assert result.code == ExitCode.USAGE  # before: --clicks 0 and -1 ran 1 click, --servers 0 ran "1 servers"
    assert message in result.err
    assert result.out == ""


def test_help_says_one_number_is_a_fixed_latency(tmp_path: Path) -> None:
    result = castbot("sandbox", "--help", cwd=tmp_path)
    assert "a range or one number" in " ".join(result.out.split())


def test_a_small_run_counts_in_good_english_and_keeps_its_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    result = castbot("sandbox", "--clicks", "1", "--servers", "1", "--data-dir", str(data_dir), *FAST, cwd=tmp_path)
    assert result.code == ExitCode.OK, result.out + result.err
    assert "1 server, 1 click;" in result.out
    assert "Clicking Apply 1 time over" in result.out
    assert "1 servers" not in result.out
    assert f"applications recorded                  1 in {data_dir / DATA_FILE}\n" in result.out
    assert "OK: every click was acknowledged and answered (ack p99 within 1000 ms)" in result.out
    doc = orjson.loads((data_dir / DATA_FILE).read_bytes())
    assert sum(len(g["applications"]) for k, g in doc.items() if k.isdigit()) == 1


@pytest.mark.asyncio
async def test_keep_running_tells_the_truth_about_the_temp_folder_and_how_to_look_around(tmp_path: Path) -> None:
    proc = await start(
        "sandbox", "--clicks", "2", "--servers", "1", "--keep-running", *FAST, cwd=tmp_path, env=environment()
    )
    seen: list[str] = []
    try:
        await read_until(proc, "Still running", seen)
        await read_until(proc, "not a Discord token", seen)
        text = "".join(seen)
        (data_file,) = re.findall(r"  data: (\S+) ", text)
        assert Path(data_file).exists()  # before: "a temp folder, removed now" while it was there
    finally:
        code, rest = await stop(proc)
    assert code == ExitCode.OK, text + rest
    assert "removed now" not in text
    assert "deleted when the sandbox ends" in text
    assert "the folder is deleted then (pass --data-dir DIR to keep it)" in text
    (rest_url,) = re.findall(r"the emulator's REST API: (http://127\.0\.0\.1:\d+/api/v10)", text)
    assert re.search(rf"curl -s -H 'Authorization: Bot \S+' {re.escape(rest_url)}/guilds/\d+/channels", text)
    assert "Stopping the bot and the emulator" in rest
    assert not Path(data_file).parent.exists()


@pytest.mark.asyncio
async def test_ctrl_c_mid_run_stops_and_prints_a_partial_summary(tmp_path: Path) -> None:
    # Channels take 8 s to create, so the run cannot be over when Ctrl-C comes right after the clicks start.
    proc = await start(
        "sandbox", "--clicks", "10", "--servers", "2", "--channel-latency", "8", cwd=tmp_path, env=environment()
    )
    seen: list[str] = []
    try:
        await read_until(proc, "Clicking Apply 10 times", seen)  # before: nothing was printed at all
    finally:
        code, rest = await stop(proc)
    output = "".join(seen) + rest
    assert code == ExitCode.INTERRUPTED, output
    assert "Interrupted: no more clicks" in output
    assert "castbot-hikari sandbox summary (partial: interrupted)" in output
    assert re.search(r"INTERRUPTED after \d+ clicks? of 10: the figures cover those only", output)
    assert "Stopping the bot: it gives the applies under way up to 20 s" in output
