"""`make test`'s closing summary: every lane's verdict and why a failed one failed, from a real pytest run."""

import sys
from pathlib import Path

import lanes  # tools/ is on pytest.ini's pythonpath


def test_the_summary_names_each_lane_and_why_the_failed_one_failed(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(lanes, "LANES", tmp_path / "lanes")
    monkeypatch.setenv("COLUMNS", "240")  # as the Makefile's pytest lane: its short summary is cut to the width
    tests = tmp_path / "test_sample.py"
    tests.write_text("def test_passes():\n    pass\n\n\ndef test_fails():\n    assert 1 == 2, 'the data differ'\n")
    # A lane left by an earlier run must not count for this one.
    assert lanes.main(["run", "molecule", "--", "true"]) == 0
    assert lanes.main(["clear", "pytest", "checks", "molecule"]) == 0

    status = lanes.main(["run", "pytest", "--", sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                         "-p", "no:xdist", "-q", str(tests)])
    passed_through = capfd.readouterr().out
    assert status == 1 and "1 failed, 1 passed" in passed_through
    assert lanes.main(["run", "checks", "--", "sh", "-c", "echo all clean"]) == 0
    capfd.readouterr()

    assert lanes.main(["summary", "pytest", "checks", "molecule"]) == 1
    lines = capfd.readouterr().out.splitlines()
    assert lines[0] == "== lanes: pytest FAILED (exit 1), checks passed, molecule did not run"
    assert any(line.startswith("== pytest: FAILED ") and "test_fails" in line and "the data differ" in line
               for line in lines[1:])
    assert lines[-1].startswith("== pytest: ") and "1 failed, 1 passed" in lines[-1]
    assert not any("checks" in line for line in lines[1:])


def test_every_lane_passed_is_one_line_and_success(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(lanes, "LANES", tmp_path / "lanes")
    for name in ("matrix", "checks"):
        assert lanes.main(["run", name, "--", "true"]) == 0
    assert lanes.main(["summary", "matrix", "checks"]) == 0
    assert capfd.readouterr().out == "== lanes: matrix passed, checks passed\n"


def test_a_lane_that_prints_no_known_reason_shows_its_last_lines(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(lanes, "LANES", tmp_path / "lanes")
    script = "printf 'one\\ntwo\\nthree\\nfour\\nmake[1]: *** [Makefile:9: x] Error 2\\n'; exit 2"
    assert lanes.main(["run", "x", "--", "sh", "-c", script]) == 2
    capfd.readouterr()
    assert lanes.main(["summary", "x"]) == 1
    assert capfd.readouterr().out.splitlines() == ["== lanes: x FAILED (exit 2)", "== x: two", "== x: three",
                                                   "== x: four"]


def test_an_ansible_error_under_make_is_the_reason_not_makes_own_line(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(lanes, "LANES", tmp_path / "lanes")
    (tmp_path / "broken.yml").write_text("- hosts: localhost\n  tasks:\n    - name: A task with no action\n")
    (tmp_path / "Makefile").write_text("check:\n\t%s -i localhost, broken.yml\n"
                                       % (Path(sys.executable).parent / "ansible-playbook"))
    assert lanes.main(["run", "checks", "--", "make", "-C", str(tmp_path), "--no-print-directory", "check"]) == 2
    capfd.readouterr()
    assert lanes.main(["summary", "checks"]) == 1
    reasons = capfd.readouterr().out.splitlines()[1:]
    assert reasons and all(line.startswith("== checks: ") for line in reasons)
    assert any("ERROR" in line and "action" in line.lower() for line in reasons), reasons
    assert not any("***" in line for line in reasons)
