"""`exportlint check --jobs N`: several models in parallel processes, the same report as one at a time."""

from conftest import EXAMPLES, run_cli


def test_parallel_report_is_the_serial_one():
    specs = [str(EXAMPLES / s) for s in ("shape_head.py:build", "packed_lstm.py:build", "shape_head.py:build_warp")]
    args = [*specs, "--static", "-t", "onnx:17", "-t", "coreml:iOS16", "-q", "--format", "json"]
    serial, parallel = run_cli("check", *args), run_cli("check", *args, "--jobs", "2")
    assert parallel.returncode == serial.returncode
    assert parallel.stdout == serial.stdout and '"model"' in serial.stdout


def test_jobs_must_be_a_positive_number():
    result = run_cli("check", "x.py:build", "--jobs", "0")
    assert result.returncode == 2 and "--jobs" in result.stderr
