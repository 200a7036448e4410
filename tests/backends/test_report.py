"""The report back end: one self-contained, deterministic HTML page with the header, charts,
diagram and foldable per-layer table; the `report` command; and the page in a real headless
Chromium (rendered, folding and unfolding, arithmetic on a click, no console errors, no
request but the page itself). The browser tests skip where no Chromium is installed."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

import netspec
from netspec.backends import graph, report
from netspec.cli import app
from netspec.errors import NetspecError
from netspec.expand.ir import leaves
from netspec.ops.base import fmt_shape
from tests.test_cli import assert_torch_free


def _graphviz() -> bool:
    import importlib.util

    return shutil.which("dot") is not None and importlib.util.find_spec("graphviz") is not None


HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)> & \u202e \x1b[31m"

SMALL = """netspec: 1
name: small
description: "{description}"
input: [3, 16, 16]
blocks:
  Unit:
    params: [width]
    body:
      - conv: conv2d(width, 3, padding=1)
      - relu: relu
    residual: true
layers:
  - stem: conv2d(8, 3, padding=1)
  - stage: stage(Unit, depth=2, width=8)
  - pool: adaptive_avgpool2d(1)
  - flatten
  - fc: linear(10)
"""


class _Rows(HTMLParser):
    """The table's rows: each ``tr``'s attributes and its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self._cell: list[str] | None = None
        self._in_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._in_table = True
        elif tag == "tr" and self._in_table:
            self.rows.append((dict(attrs), []))
        elif tag == "td" and self._in_table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _rows(page: str) -> list[tuple[dict[str, str | None], list[str]]]:
    parser = _Rows()
    parser.feed(page)
    return [(attrs, cells) for attrs, cells in parser.rows if cells]


def _page(spec: str = "resnet50", **kwargs: Any) -> report.Report:
    return report.html_page(netspec.load(spec).network, **kwargs)


# -- the page, statically ----------------------------------------------------------------------


def test_resnet50_names_every_top_level_layer_with_its_output_shape() -> None:
    net = netspec.load("resnet50").network
    page = report.html_page(net).html
    top = {
        attrs["data-path"]: cells
        for attrs, cells in _rows(page)
        if attrs["data-level"] == "1" and attrs.get("class") != "explain"
    }
    assert list(top) == [child.path or child.name for child in net.root.children]
    for child in net.root.children:
        cells = top[child.path or child.name]
        assert cells[0] == child.name and cells[2] == fmt_shape(child.output), cells
    header = page.split("</header>")[0]
    assert "<h1>resnet50</h1>" in header and "3×224×224 → 1000" in header
    assert "25,557,032 (25.56 M" in header and "4,089,184,256 (4.09 G)" in header


def test_the_table_holds_every_layer_and_its_arithmetic() -> None:
    net = netspec.load("lenet5").network
    rows = _rows(report.html_page(net).html)
    layers = [(a, c) for a, c in rows if a.get("class") in ("layer", "call")]
    assert [a["data-path"] for a, _ in layers] == [
        leaf.path or leaf.name for leaf in leaves(net.root)
    ]
    explained = {a["id"]: c for a, c in rows if a.get("class") == "explain"}
    c1 = next(leaf for leaf in leaves(net.root) if leaf.name == "c1")
    expected = c1.op.explain(c1.attrs, c1.input, c1.output)
    assert explained["x1"][1] == "".join(expected)  # lines joined by <br>
    assert "H: (32 − 5 + 2·0) / 1 + 1 = 28" in expected


def test_folding_starts_as_check_folds_and_depth_changes_it() -> None:
    def hidden(page: str) -> dict[str, bool]:
        return {
            str(a["data-path"]): "hidden" in a
            for a, _ in _rows(page)
            if a.get("class") not in ("explain", "input")
        }

    default = hidden(_page().html)  # resnet50 folds at depth 2, as `check` does
    assert not default["layer1"] and not default["layer1.0"] and default["layer1.0.conv1"]
    assert not any(hidden(_page(depth=0).html).values())
    one = hidden(_page(depth=1).html)
    assert not one["layer3"] and one["layer3.0"] and one["layer3.0.conv1"]
    folded = re.findall(
        r'aria-expanded="false" aria-label="fold or unfold ([^"]+)"', _page(depth=1).html
    )
    assert folded == ["layer1", "layer2", "layer3", "layer4"]  # the blocks in them are unfolded


def test_the_page_is_deterministic_and_fetches_nothing() -> None:
    first, second = _page().html, _page().html
    assert first == second
    assert not re.search(r"<(link|iframe|object|embed|img)\b|<script\b[^>]*\bsrc=", first)
    assert not re.search(r"@import|url\(", first)
    refs = re.findall(r'\b(?:src|href|xlink:href)="([^"]*)"', first)
    assert all(ref.startswith("#") for ref in refs), refs
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', first)
    assert policy and "default-src 'none'" in policy[1]
    for kind, body in (("script", report.SCRIPT), ("style", None)):
        if body is None:
            body = re.search(r"<style>(.*?)</style>", first, re.S)[1]  # type: ignore[index]
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{kind}-src 'sha256-{digest}'" in policy[1], kind


@pytest.mark.skipif(not _graphviz(), reason="Graphviz (dot and the graphviz package) not installed")
def test_the_diagram_is_graphvizs_svg_inline() -> None:
    page = _page()
    assert page.missing_diagram is None
    svg = page.html.split('<div class="diagram" id="diagram-box">')[1].split("</div>")[0]
    assert svg.startswith('<svg class="graph" role="img"') and svg.rstrip().endswith("</svg>")
    assert "<!--" not in svg and "<?xml" not in svg and "DOCTYPE" not in svg
    assert ">layer3.5</text>" in svg


def test_without_graphviz_the_page_says_how_and_holds_the_dot_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(report, "shutil", SimpleNamespace(which=lambda name: None))
    page = _page("lenet5")
    # whichever is missing here: the package (checked first) or, with it, the dot program
    missing = (
        "the graphviz Python package"
        if importlib.util.find_spec("graphviz") is None
        else "Graphviz's dot program"
    )
    assert page.missing_diagram == f"it is drawn by Graphviz, and {missing} is not installed"
    assert 'id="no-diagram"' in page.html and "pip install &#x27;netspec[graph]&#x27;" in page.html
    net = netspec.load("lenet5").network
    assert f'<pre class="dot">{report._e(graph.dot(net))}</pre>' in page.html
    assert '<svg class="graph"' not in page.html


def test_a_failure_of_dot_leaves_the_diagram_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(text: str, fmt: str) -> bytes:
        raise NetspecError("Graphviz's dot failed: out of memory", where="--out")

    monkeypatch.setattr(report, "_missing_graphviz", lambda: None)
    monkeypatch.setattr(graph, "render", fails)
    page = _page("lenet5")
    assert page.missing_diagram == "Graphviz's dot failed: out of memory"
    assert '<pre class="dot">' in page.html


def test_a_diagram_too_large_to_draw_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "MAX_DIAGRAM_BOXES", 5)
    page = _page("lenet5")
    assert page.missing_diagram is not None and "more than the 5 drawn here" in page.missing_diagram
    assert "netspec graph --depth N" in page.html


def test_charts_have_a_bar_per_top_level_layer() -> None:
    net = netspec.load("resnet50").network
    page = report.html_page(net).html
    params = page.split('<figure class="chart params">')[1].split("</figure>")[0]
    macs = page.split('<figure class="chart macs">')[1].split("</figure>")[0]
    names = [child.name for child in net.root.children]
    for chart in (params, macs):
        assert re.findall(r'text-anchor="end">([^<]*)</text>', chart) == names
    assert "<title>layer4: 14,964,736 parameters (58.6%)</title>" in params
    assert "<title>layer3: 1,464,336,384 MACs (35.8%)</title>" in macs


def test_a_chart_keeps_the_largest_bars_in_order() -> None:
    items = [(f"s{i}", i % 7) for i in range(100)]
    bars = report._bars(items)
    assert len(bars) == report.MAX_BARS and bars[-1][0] == "61 others"
    assert sum(value for _, value in bars) == sum(value for _, value in items)
    kept = [name for name, _ in bars[:-1]]
    assert kept == sorted(kept, key=lambda n: int(n[1:]))  # call order
    top = sorted((value for _, value in items), reverse=True)[: report.MAX_BARS - 1]
    assert sorted((value for _, value in bars[:-1]), reverse=True) == top


def test_text_from_the_spec_is_escaped(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL.format(description=HOSTILE.replace("\x1b", "\\e").replace('"', '\\"')))
    page = report.html_page(netspec.load(spec).network).html
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\\u202e" in page and "\\x1b[31m" in page and "\u202e" not in page
    assert page.count("<script>") == 1


# -- the command -------------------------------------------------------------------------------


def test_the_command_writes_the_page_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    runner = CliRunner()
    result = runner.invoke(app, ["report", "resnet50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"wrote {out}")
    assert out.read_text("utf-8") == _page().html
    again = runner.invoke(app, ["report", "resnet50", "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.stderr
    forced = runner.invoke(
        app, ["report", "resnet50", "-o", str(out), "--force", "--set", "num_classes=10"]
    )
    assert forced.exit_code == 0, forced.output
    assert "2048 → 10" not in out.read_text() and "3×224×224 → 10<" in out.read_text()


def test_the_command_options_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    out = tmp_path / "r.html"
    small = runner.invoke(
        app, ["report", "lenet5", "-o", str(out), "--input", "1,64,64", "--macs", "all", "-d", "0"]
    )
    assert small.exit_code == 0, small.output
    text = out.read_text()
    assert "1×64×64 →" in text and "MACs by top-level layer (all)" in text
    bad = runner.invoke(app, ["report", "lenet5", "-o", str(tmp_path / "x.html"), "--set", "x=1"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert not (tmp_path / "x.html").exists()
    folder = runner.invoke(app, ["report", "lenet5", "-o", str(tmp_path) + "/"])
    assert folder.exit_code == 2 and "names a folder" in folder.stderr
    missing = runner.invoke(app, ["report", "lenet5"])
    assert missing.exit_code == 2 and "--out" in missing.stderr
    monkeypatch.setattr(report, "shutil", SimpleNamespace(which=lambda name: None))
    plain = runner.invoke(app, ["report", "lenet5", "-o", str(tmp_path / "p.html")])
    assert plain.exit_code == 0, plain.output
    assert "without the diagram:" in plain.stderr and "Graphviz" in plain.stderr


def test_report_does_not_import_torch(tmp_path: Path) -> None:
    assert_torch_free(["report", "resnet50", "-o", str(tmp_path / "r.html")], 0)


def test_help_lists_report() -> None:
    out = CliRunner().invoke(app, ["--help"]).stdout
    assert re.search(r"^  report\s", out, re.M)


# -- in a real browser -------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def _browser() -> str | None:
    """A Chromium to drive: $NETSPEC_CHROMIUM, else the first of :data:`BROWSERS` found."""
    given = os.environ.get("NETSPEC_CHROMIUM")
    if given:
        return given
    return next(filter(None, map(shutil.which, BROWSERS)), None)


class BrowserGone(Exception):
    """The browser did not answer (it failed to start or exited)."""


class Chromium:
    """A headless Chromium driven over the DevTools protocol on a pipe (its fds 3 and 4:
    ``--remote-debugging-pipe``), with the standard library only. One page at a time; every
    event is kept, to look for console errors, exceptions, dialogs and requests."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()

        def fds() -> None:  # in the child: the pipe ends become fds 3 (commands) and 4
            import fcntl

            commands = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
            answers = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        args = [
            executable,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--disable-gpu",
            "--disable-dev-shm-usage",  # containers' /dev/shm is often too small for it
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--window-size=1280,900",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=fds,  # the pipe ends at fds 3 and 4, where Chromium looks for them
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (BrowserGone, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._writer)
        os.close(self._reader)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                raise BrowserGone("no answer from the browser in time")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise BrowserGone("the browser closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 30, **kw: Any
    ) -> dict[str, Any]:
        """Send a command (to the page's session unless ``session=""``) and wait for its
        answer, keeping the events that arrive meanwhile."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        session = kw.get("session", self.session)
        if session:
            message["sessionId"] = session
        try:
            os.write(self._writer, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise BrowserGone("the browser closed the pipe") from None
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer.get("result", {})  # type: ignore[no-any-return]
            self.events.append(answer)

    def wait(self, method: str, timeout: float = 30) -> dict[str, Any]:
        """The first event named ``method`` (already received or to come)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method and not event.get("seen"):
                    event["seen"] = True
                    return event
            self.events.append(self._message(deadline))

    def open(self, url: str) -> None:
        """A fresh tab at ``url``, loaded and with the page's script run."""
        if self.session:
            self.call("Target.closeTarget", {"targetId": self.target}, session="")
        self.events.clear()
        self.target = self.call("Target.createTarget", {"url": "about:blank"}, session="")[
            "targetId"
        ]
        self.session = self.call(
            "Target.attachToTarget", {"targetId": self.target, "flatten": True}, session=""
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", {"url": url})
        self.wait("Page.loadEventFired")
        deadline = time.monotonic() + 30
        while self.js("document.documentElement.dataset.ready") != "true":
            assert time.monotonic() < deadline, "the page's script never finished"
            time.sleep(0.05)

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the middle of the element."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, dialogs and failed loads seen so far."""
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                out.append(f"console.{params['type']}: {params['args']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(f"log: {params['entry']['text']}")
            elif method == "Page.javascriptDialogOpening":
                out.append(f"dialog: {params['message']}")
            elif method == "Network.loadingFailed":
                out.append(f"failed load: {params}")
        return out

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    executable = _browser()
    if os.name != "posix":
        pytest.skip("the DevTools pipe is driven on POSIX systems only")
    if executable is None:
        pytest.skip(f"no Chromium installed (looked for {', '.join(BROWSERS)}, $NETSPEC_CHROMIUM)")
    chromium = Chromium(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        chromium.call("Browser.getVersion", session="", timeout=60)
    except BrowserGone as exc:
        chromium.proc.kill()
        chromium.proc.wait()
        pytest.skip(f"{executable} did not start headless: {exc}")
    yield chromium
    chromium.close()


def _write(tmp_path: Path, page: report.Report, name: str = "r.html") -> str:
    path = tmp_path / name
    path.write_text(page.html, "utf-8")
    return path.as_uri()


VISIBLE = (
    "Array.from(document.querySelectorAll('#layers-table tbody tr'))"
    ".filter((r) => !r.hidden && r.offsetParent !== null && !r.classList.contains('explain'))"
    ".map((r) => r.dataset.path || r.cells[0].textContent)"
)


def test_the_harness_sees_console_errors_and_requests(browser: Chromium, tmp_path: Path) -> None:
    # What the other browser tests rely on: a console error, a blocked fetch and an uncaught
    # exception are all seen.
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><meta http-equiv='Content-Security-Policy' content=\"default-src 'none';"
        " script-src 'unsafe-inline'\"><img src='https://example.invalid/x.png'><script>"
        "console.error('boom'); document.documentElement.dataset.ready = 'true';"
        "setTimeout(() => { throw new Error('late'); });</script>"
    )
    browser.open(page.as_uri())
    browser.js("new Promise((done) => setTimeout(done, 100))")
    seen = "\n".join(browser.problems())
    assert "boom" in seen and "late" in seen and "Content Security Policy" in seen, seen


def test_resnet50_renders_in_a_browser(browser: Chromium, tmp_path: Path) -> None:
    net = netspec.load("resnet50").network
    page = report.html_page(net)
    url = _write(tmp_path, page)
    browser.open(url)
    rows = browser.js(
        "Array.from(document.querySelectorAll('#layers-table tr[data-level=\"1\"]:not(.explain)'))"
        ".map((r) => [r.hidden, r.cells[0].textContent, r.cells[2].textContent])"
    )
    assert rows == [[False, c.name, fmt_shape(c.output)] for c in net.root.children]
    total = browser.js("document.querySelectorAll('#layers-table tbody tr').length")
    assert total == len(_rows(page.html))
    assert browser.js("document.querySelector('h1').textContent") == "resnet50"
    bars = browser.js("document.querySelectorAll('figure.chart g.bar').length")
    assert bars == 2 * len(net.root.children)
    if page.missing_diagram is None:
        assert browser.js("document.querySelectorAll('svg.graph g.node').length") >= 20
        width = browser.js("document.querySelector('svg.graph').getBoundingClientRect().width")
        assert 0 < width <= browser.js("document.getElementById('diagram-box').clientWidth")
    assert browser.problems() == []
    assert {u.split("#")[0] for u in browser.requests()} == {url}


def test_folding_and_unfolding_in_a_browser(browser: Chromium, tmp_path: Path) -> None:
    net = netspec.load("resnet50").network
    url = _write(tmp_path, report.html_page(net))
    every = [node.path or node.name for node in _walk(net.root)]
    browser.open(url)
    visible = browser.js(VISIBLE)
    assert "layer1.0" in visible and "layer1.0.conv1" not in visible  # folded at depth 2
    browser.click('tr[data-path="layer1.0"] button.fold')  # a real click unfolds all of a block
    visible = browser.js(VISIBLE)
    assert "layer1.0.conv1" in visible and "layer1.0.downsample.0" in visible
    assert "layer1.1.conv1" not in visible
    browser.click('tr[data-path="layer1"] button.fold')  # folds the stage, and all in it
    visible = browser.js(VISIBLE)
    assert "layer1" in visible and not any(p.startswith("layer1.") for p in visible)
    browser.click('tr[data-path="layer1"] button.fold')  # unfolding keeps layer1.0 unfolded
    assert "layer1.0.conv1" in browser.js(VISIBLE)
    browser.click("#collapse-all")
    assert browser.js(VISIBLE) == ["input", *(c.path or c.name for c in net.root.children)]
    browser.click('tr[data-path="layer2"] button.fold')  # after "collapse all", one level
    assert browser.js(VISIBLE)[5:11] == ["layer1", "layer2", *(f"layer2.{i}" for i in range(4))]
    browser.click("#expand-all")
    assert browser.js(VISIBLE) == ["input", *every]
    assert browser.problems() == []
    browser.open(url + "#expand=all")  # the page honours a hash
    assert browser.js(VISIBLE) == ["input", *every]
    browser.open(url + "#collapse=all")
    assert len(browser.js(VISIBLE)) == 1 + len(net.root.children)
    assert browser.problems() == []


def test_arithmetic_on_a_click_in_a_browser(browser: Chromium, tmp_path: Path) -> None:
    net = netspec.load("resnet50").network
    browser.open(_write(tmp_path, report.html_page(net)))
    conv1 = next(leaf for leaf in leaves(net.root) if leaf.path == "conv1")
    math = 'document.querySelector("tr[data-path=conv1]").nextElementSibling'
    assert browser.js(f"{math}.hidden") is True
    browser.click('tr[data-path="conv1"] button.why')
    assert browser.js(f"{math}.hidden") is False
    shown = browser.js(f"{math}.querySelector('.math').innerText").splitlines()
    assert shown == conv1.op.explain(conv1.attrs, conv1.input, conv1.output)
    assert "H: ⌊(224 − 7 + 2·3) / 2⌋ + 1 = 112" in shown
    browser.click('tr[data-path="conv1"] button.why')
    assert browser.js(f"{math}.hidden") is True
    browser.click("#explain-all")  # every visible layer's arithmetic, none of folded ones
    shown = browser.js(
        "Array.from(document.querySelectorAll('tr.explain')).filter((r) => !r.hidden)"
        ".map((r) => r.previousElementSibling.dataset.path)"
    )
    assert "conv1" in shown and "fc" in shown and "layer1.0.conv1" not in shown
    assert browser.problems() == []


def test_a_click_on_the_diagram_finds_the_row(browser: Chromium, tmp_path: Path) -> None:
    page = _page()
    if page.missing_diagram is not None:
        pytest.skip(f"no diagram here: {page.missing_diagram}")
    browser.open(_write(tmp_path, page))
    browser.js(
        "Array.from(document.querySelectorAll('svg.graph g.node text'))"
        ".find((t) => t.textContent === 'layer3.2.conv2' || t.textContent === 'layer3.2')"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )
    hit = browser.js("Array.from(document.querySelectorAll('tr.hit')).map((r) => r.dataset.path)")
    assert hit in (["layer3.2"], ["layer3.2.conv2"])
    assert hit[0] in browser.js(VISIBLE)
    assert browser.problems() == []


def test_the_page_without_graphviz_in_a_browser(
    browser: Chromium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "shutil", SimpleNamespace(which=lambda name: None))
    page = _page("googlenet")
    assert page.missing_diagram is not None
    browser.open(_write(tmp_path, page) + "#expand=all")
    note = browser.js("document.getElementById('no-diagram').textContent")
    assert note.startswith("No diagram:") and "Graphviz" in note
    dot = browser.js("document.querySelector('pre.dot').textContent")
    assert dot == graph.dot(netspec.load("googlenet").network)
    assert "inception3a.branch1.conv" in browser.js(VISIBLE)
    assert browser.problems() == []


def test_hostile_text_stays_text_in_a_browser(browser: Chromium, tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL.format(description=HOSTILE.replace("\x1b", "\\e").replace('"', '\\"')))
    browser.open(_write(tmp_path, report.html_page(netspec.load(spec).network)))
    shown = browser.js("document.querySelector('.description').textContent")
    assert shown == HOSTILE.replace("\u202e", "\\u202e").replace("\x1b", "\\x1b")
    assert browser.js("document.querySelectorAll('script').length") == 1
    assert browser.js("document.querySelectorAll('img').length") == 0
    assert browser.problems() == []


def _walk(root: Any) -> Iterator[Any]:
    """Every node under the root in table order: a block's learned tensors first."""
    for child in root.children:
        yield child
        for t in getattr(child, "own", []):
            yield SimpleNamespace(path=f"{child.path}.{t.name}", name=t.name)
        if hasattr(child, "children"):
            yield from _walk(child)
