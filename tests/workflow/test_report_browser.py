"""The rendered report opens in headless Chromium with every image loaded."""

import json
import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                   .map(function (i) { return i.getAttribute('src'); });
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({n: imgs.length, broken: broken});
  document.body.appendChild(out);
});
</script></body>"""


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_report_images_all_load_in_chromium(tiny_run, tmp_path):
    report = tiny_run / "results" / "report"
    probe = report / "_probe.html"
    probe.write_text((report / "index.html").read_text().replace("</body>", PROBE))
    try:
        common = FLAGS + [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
        dom = subprocess.run([CHROMIUM, *common, "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
        shot = tmp_path / "report.png"
        subprocess.run([CHROMIUM, *common, "--window-size=1280,2400", f"--screenshot={shot}", probe.as_uri()],
                       capture_output=True, timeout=120)
    finally:
        probe.unlink()
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, "probe did not run:\n" + dom[-2000:]
    res = json.loads(m.group(1).replace("&quot;", '"'))
    assert res["n"] >= 3 and res["broken"] == [], res
    assert shot.exists() and shot.stat().st_size > 10_000


def _probe(page, tmp_path):
    """Open ``page`` in headless Chromium; the probe's JSON (images, broken ones, page height)."""
    probe = page.with_name("_probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE))
    try:
        common = FLAGS + [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
        dom = subprocess.run([CHROMIUM, *common, "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
    finally:
        probe.unlink()
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, "probe did not run:\n" + dom[-2000:]
    return json.loads(m.group(1).replace("&quot;", '"'))


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_report_opens_alone_and_inside_snakemakes_zip(tiny_run, tmp_path):
    import zipfile

    from helpers import snakemake

    figures = sorted(p.name for p in (tiny_run / "results/report/figures").glob("*.png"))
    # the page alone, far from the run: every figure is embedded
    alone = tmp_path / "alone" / "index.html"
    alone.parent.mkdir()
    shutil.copy(tiny_run / "results/report/index.html", alone)
    res = _probe(alone, tmp_path)
    assert res["n"] == len(figures) and res["broken"] == [], res
    # snakemake --report: the zip holds the page and every figure; the page's images all load there
    snakemake(tiny_run, "--report", str(tmp_path / "report.zip"), configfile=tiny_run / "tiny.yaml")
    with zipfile.ZipFile(tmp_path / "report.zip") as z:
        names = z.namelist()
        z.extractall(tmp_path / "unz")
    for f in figures:
        assert any(n.endswith("/" + f) for n in names), f
    [page] = list((tmp_path / "unz").rglob("index.html"))  # report/data/raw/<hash>/index.html
    res = _probe(page, tmp_path)
    assert res["n"] == len(figures) and res["broken"] == [], res
    [main] = list((tmp_path / "unz").rglob("report.html"))
    assert "diffsep" in main.read_text()
