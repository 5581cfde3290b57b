"""The story of the trade war (events.py): each change date with what changed, through `timeline`."""
from tariffcalc.cli import cli


def test_timeline_tells_what_changed(runner, no_user_data):
    result = runner.invoke(cli, ["timeline", "--from", "2025-04-01", "--to", "2025-05-31", "-d", "cn", "-f", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("2025-04-12,cn") and "84→125" in line and ",125," in line for line in lines)
