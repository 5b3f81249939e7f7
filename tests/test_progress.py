"""Progress bars only on a terminal; plain periodic lines (no carriage returns) in log files."""

import io

from diffsep.progress import PlainProgress, progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_log_file_gets_plain_lines_without_carriage_returns(monkeypatch):
    out = io.StringIO()
    clock = iter(range(0, 10_000, 7))  # 7 s per call of time.monotonic
    monkeypatch.setattr("diffsep.progress.time.monotonic", lambda: next(clock))
    bar = progress(total=100, desc="train d/8", stream=out, every=30, leave=False)
    assert isinstance(bar, PlainProgress)
    for _ in range(100):
        bar.update(1)
        bar.set_postfix(loss="0.1234", refresh=False)
    bar.close()
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert 10 <= len(lines) <= 30, lines  # about one per 30 s of a 700 s loop, not one per step
    assert lines[0].startswith("train d/8: ") and "loss=0.1234" in lines[0]
    assert lines[-1].startswith("train d/8: 100/100 (100 %)") and lines[-1].endswith("done")


def test_short_inner_loops_print_nothing():
    out = io.StringIO()
    for _ in progress(range(50), desc="heun", stream=out, leave=False):
        pass
    assert out.getvalue() == ""
    for _ in progress(range(5), desc="outer", stream=out):
        pass
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]] and "5/5" in out.getvalue()


def test_terminal_gets_a_tqdm_bar():
    from tqdm import tqdm

    bar = progress(total=3, desc="x", stream=_Tty())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress(total=3, stream=_Tty(), disable=True), PlainProgress)


def test_package_uses_no_tqdm_directly():
    from pathlib import Path

    pkg = Path(__file__).resolve().parents[1] / "diffsep"
    direct = [str(p) for p in pkg.rglob("*.py") if p.name != "progress.py" and "from tqdm" in p.read_text()]
    assert direct == []


def test_interval_from_the_environment(monkeypatch):
    import pytest

    from diffsep.progress import EVERY_SECONDS, default_every

    monkeypatch.delenv("DIFFSEP_PROGRESS_EVERY", raising=False)
    assert default_every() == EVERY_SECONDS
    monkeypatch.setenv("DIFFSEP_PROGRESS_EVERY", "0.5")
    assert default_every() == 0.5 and progress(total=3, stream=io.StringIO()).every == 0.5
    for bad in ("0", "-1", "nan", "soon"):
        monkeypatch.setenv("DIFFSEP_PROGRESS_EVERY", bad)
        with pytest.raises(ValueError, match="DIFFSEP_PROGRESS_EVERY"):
            default_every()
