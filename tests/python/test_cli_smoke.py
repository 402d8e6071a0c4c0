"""The binary answers as its README says, seen from Python (the runner's own check)."""
import subprocess


def test_version_and_unknown_command(layerlaw_bin):
    v = subprocess.run([str(layerlaw_bin), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("layerlaw ")
    bad = subprocess.run([str(layerlaw_bin), "no-such-command"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no-such-command" in bad.stderr
