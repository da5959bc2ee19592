"""The vendored YASGUI (bindings/sparql/static/yasgui): files, licence, provenance, and an
init script that switches off every outside service the README lists.

The last test renders a page in headless Chromium and is skipped without it.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, headless_chromium

STATIC = Path(__file__).resolve().parents[3] / "bindings" / "sparql" / "static" / "yasgui"
INIT = STATIC / "jobtrail-yasgui.js"
STYLE = STATIC / "jobtrail-yasgui.css"  # hides buttons (no inline <style> under the CSP)
README = STATIC / "README.md"
# Kept in bundle-urls.txt's header and README.md's update steps: regenerate with this.
URL_RE = re.compile(r"https?://[A-Za-z0-9][A-Za-z0-9._~:/?#\[\]@!$&*+,;=%-]*")


def version_dir() -> Path:
    dirs = [d for d in STATIC.iterdir() if d.is_dir() and re.fullmatch(r"\d+\.\d+\.\d+", d.name)]
    assert len(dirs) == 1, f"expected exactly one vendored version folder, found {dirs}"
    return dirs[0]


def outside_service_rows() -> list[list[str]]:
    """Cells of the README table under 'Outside services ...' (header and rule skipped)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Outside services", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return [row for row in cells[2:] if row]


def test_one_version_with_browser_files_and_nothing_heavy() -> None:
    vdir = version_dir()
    for name in ("yasgui.min.js", "yasgui.min.css", "LICENSE", "THIRD-PARTY-LICENSES.txt"):
        assert (vdir / name).stat().st_size > 0, name
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".map" or "node_modules" in p.parts]
    assert sum(p.stat().st_size for p in files) < 2_000_000
    # The CSS must not need assets that were not copied.
    for ref in re.findall(r"url\(([^)]*)\)", (vdir / "yasgui.min.css").read_text()):
        ref = ref.strip("'\"")
        assert ref.startswith("data:") or (vdir / ref).exists(), ref


def test_licence_is_mit_and_package_json_matches_folder() -> None:
    vdir = version_dir()
    licence = (vdir / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence
    assert "Permission is hereby granted, free of charge" in licence
    package = json.loads((vdir / "package.json").read_text(encoding="utf-8"))
    assert package["name"] == "@zazuko/yasgui"
    assert package["license"] == "MIT"
    assert package["version"] == vdir.name


def test_readme_names_the_exact_version_and_its_source() -> None:
    version = version_dir().name
    text = README.read_text(encoding="utf-8")
    assert f"| Version | {version} |" in text
    assert f"npm pack @zazuko/yasgui@{version}" in text
    assert f"{version}/yasgui.min.js" in text
    mentioned = set(re.findall(r"@zazuko/yasgui@(\d+\.\d+\.\d+)", text))
    assert mentioned == {version}
    assert re.search(r"Vendored on \| \d{4}-\d{2}-\d{2}", text)


def test_readme_checksums_match_the_vendored_files() -> None:
    vdir = version_dir()
    text = README.read_text(encoding="utf-8")
    for name in ("yasgui.min.js", "yasgui.min.css"):
        digest = hashlib.sha256((vdir / name).read_bytes()).hexdigest()
        assert f"`{vdir.name}/{name}`" in text and digest in text, name


def test_bundle_urls_list_is_complete() -> None:
    """bundle-urls.txt lists exactly the URL literals of the bundle, so an update
    that adds one shows up here and gets looked at."""
    bundle = (version_dir() / "yasgui.min.js").read_text(encoding="utf-8")
    listed = {
        line
        for line in (STATIC / "bundle-urls.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert listed == set(URL_RE.findall(bundle))


def test_readme_lists_the_known_outside_services() -> None:
    table = "\n".join(" | ".join(row) for row in outside_service_rows())
    bundle = (version_dir() / "yasgui.min.js").read_text(encoding="utf-8")
    for service in (
        "https://dbpedia.org/sparql",
        "https://query.wikidata.org/bigdata/namespace/wdq/sparql",
        "lov.linkeddata.es",
        "prefix.cc",
        "corsProxy",
        "createShortLink",
        "populateFromUrl",
        "persistenceId",
    ):
        assert service in table, service
        assert service in bundle, service


def test_init_script_switches_off_every_listed_service() -> None:
    script = INIT.read_text(encoding="utf-8")
    style = STYLE.read_text(encoding="utf-8")
    options = []
    for row in outside_service_rows():
        for token in re.findall(r"`([^`]+)`", row[-1]):
            options.append(token)
            name, _, value = token.partition(": ")
            if value:
                # "option: value" in the README must be set exactly so.
                assert f"{name}: {value}" in script, token
            for part in re.findall(r"[A-Za-z_$][A-Za-z0-9_$]*", name):
                where = style if name.startswith(".") else script  # a class: hidden by the CSS
                assert part in where, (
                    f"{part} (from {token!r}) not in {STYLE.name if where is style else INIT.name}"
                )
    assert len(options) >= 12, options
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    assert not URL_RE.search(code), "the init script must not name an outside URL"


# --------------------------------------------------------------------------
# Optional: render in headless Chromium
# --------------------------------------------------------------------------

QUERIES = [
    {"name": "All jobs", "query": "SELECT * WHERE { ?s ?p ?o } LIMIT 5"},
    {"name": "Count triples", "query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
]

# Runs before the bundle: records every URL the page asks for, then, once
# Yasgui is up, tries to move a tab to DBpedia, runs the first query, and
# writes what it saw into <pre id="probe">.
PROBE = """
const requested = [];
const origFetch = window.fetch;
window.fetch = (input, init) => {
  requested.push(new Request(input, init).url);
  return origFetch(input, init);
};
const origOpen = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url, ...rest) {
  requested.push(new URL(url, document.baseURI).href);
  return origOpen.call(this, method, url, ...rest);
};
window.addEventListener("load", async () => {
  const y = window.jobtrailYasgui;
  const tab = y.getTab();
  tab.setEndpoint("https://dbpedia.org/sparql");
  try { await tab.query(); } catch (e) { /* http.server answers POST with 501 */ }
  const out = {
    tabs: Object.values(y._tabs).map((t) => t.getName()),
    endpoints: Object.values(y._tabs).map((t) => t.getEndpoint()),
    catalogue: y.config.endpointCatalogueOptions.getData(),
    corsProxy: y.config.corsProxy === undefined ? "undefined" : y.config.corsProxy,
    completers: tab.getYasqe().config.autocompleters,
    prefixCcApi: tab.getYasqe().config.prefixCcApi,
    shortLink: typeof tab.getYasqe().config.createShortLink,
    localStorage: Object.keys(localStorage),
    requested: requested.concat(performance.getEntriesByType("resource").map((r) => r.name)),
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("http.server did not start")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_renders_in_headless_chromium_without_outside_requests(tmp_path: Path) -> None:
    vdir = version_dir()
    site = tmp_path / "site"
    shutil.copytree(vdir, site / "yasgui" / vdir.name)
    shutil.copy(INIT, site / "yasgui" / INIT.name)
    shutil.copy(STYLE, site / "yasgui" / STYLE.name)
    config = {
        "endpoint": "/sparql",
        "queries": QUERIES,
        "prefixes": {"schema": "https://schema.org/"},
    }
    (site / "index.html").write_text(
        f"""<!doctype html>
<html><head><meta charset="utf-8"><title>query</title>
<link rel="stylesheet" href="yasgui/{vdir.name}/yasgui.min.css">
<link rel="stylesheet" href="yasgui/{STYLE.name}"></head>
<body><div id="yasgui"></div>
<script type="application/json" id="yasgui-config">{json.dumps(config)}</script>
<script>{PROBE}</script>
<script src="yasgui/{vdir.name}/yasgui.min.js"></script>
<script src="yasgui/{INIT.name}"></script>
</body></html>
""",
        encoding="utf-8",
    )

    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(site),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, time.monotonic() + 10)
        result = subprocess.run(
            headless_chromium(tmp_path / "profile", "--dump-dom", f"{origin}/index.html"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)

    dom = result.stdout
    assert 'class="yasgui"' in dom, result.stderr[-2000:]
    tab_spans = re.findall(r'<a role="tab"[^>]*>\s*<span>([^<]*)</span>', dom)
    tab_names = [html.unescape(n) for n in tab_spans]
    assert tab_names == [q["name"] for q in QUERIES]

    probe_match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert probe_match, "probe did not run"
    probe = json.loads(html.unescape(probe_match.group(1)))
    endpoint = f"{origin}/sparql"
    assert probe["tabs"] == [q["name"] for q in QUERIES]
    assert probe["endpoints"] == [endpoint, endpoint]  # the DBpedia switch was undone
    assert probe["catalogue"] == [{"endpoint": endpoint}]
    assert probe["corsProxy"] == "undefined"
    assert probe["completers"] == ["variables", "jobtrailPrefixes"]
    assert probe["prefixCcApi"] is None
    assert probe["shortLink"] == "undefined"
    assert probe["localStorage"] == []
    assert any(url.startswith(endpoint) for url in probe["requested"]), probe["requested"]
    outside = [url for url in probe["requested"] if not url.startswith(origin + "/")]
    assert outside == []
