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
from urllib.parse import urlencode

import httpx
import lxml.html
import pytest

from tests.conftest import CHROMIUM, browser_dom, headless_chromium

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
    {
        "name": "count",
        "description": "Triples, counted.",
        "parameters": [],
        "sparql": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    },
]
STARTER = "SELECT * WHERE { ?s ?p ?o } LIMIT 5"

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
        "query": STARTER,
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
    assert tab_names == ["Query"]  # named queries open from links (#named=…), not all at once

    probe_match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert probe_match, "probe did not run"
    probe = json.loads(html.unescape(probe_match.group(1)))
    endpoint = f"{origin}/sparql"
    assert probe["tabs"] == ["Query"]
    assert probe["endpoints"] == [endpoint]  # the DBpedia switch was undone
    assert probe["catalogue"] == [{"endpoint": endpoint}]
    assert probe["corsProxy"] == "undefined"
    assert probe["completers"] == ["variables", "jobtrailPrefixes"]
    assert probe["prefixCcApi"] is None
    assert probe["shortLink"] == "undefined"
    # tabs and edits persist, under a key naming this endpoint
    assert probe["localStorage"] == [f"jobtrail-yasgui {endpoint}_config"]
    assert any(url.startswith(endpoint) for url in probe["requested"]), probe["requested"]
    outside = [url for url in probe["requested"] if not url.startswith(origin + "/")]
    assert outside == []


# --------------------------------------------------------------------------
# The page at /sparql on a real server: named-query tabs, shared links,
# persistence (in headless Chromium), and the plain form without JavaScript
# --------------------------------------------------------------------------


def _dom(served: str, target: str, profile: Path, shot: str | None = None) -> str:
    """The DOM of `served`+`target` after its scripts ran. Yasr's result table sets inline
    styles, which the CSP blocks (cosmetic); a script blocked would be a page that does not
    work."""
    return browser_dom(served + target, profile, shot, refused="script-src")


def _tabs(dom: str) -> list[str]:
    spans = re.findall(r'<a role="tab"[^>]*>\s*<span>([^<]*)</span>', dom)
    return [html.unescape(n) for n in spans]


def _editor_text(dom: str) -> str:
    lines = re.findall(r'<pre class=" CodeMirror-line "[^>]*>(.*?)</pre>', dom, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(lines))).replace("\xa0", " ")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_a_named_query_tab_has_its_parameter_form_and_runs_at_its_url(
    served: str, tmp_path: Path
) -> None:
    described = httpx.get(served + "queries", headers={"Accept": "application/json"}).json()
    hops = next(q for q in described["queries"] if q["name"] == "hops-of-reference")
    required = [p["name"] for p in hops["parameters"] if p["required"]]
    assert required == ["reference"]
    target = "sparql#named=hops-of-reference&reference=TDR-2021-GW3"
    dom = _dom(served, target, tmp_path / "profile", "yasgui-named-query.png")
    page = lxml.html.fromstring(dom)
    assert _tabs(dom) == ["hops-of-reference"]
    forms = page.xpath("//form[@class='jt-named'][@data-query='hops-of-reference']")
    assert len(forms) == 1
    fields = forms[0].xpath(".//p[@class='jt-param']")
    assert [f.xpath("string(.//code)") for f in fields] == [p["name"] for p in hops["parameters"]]
    for f, p in zip(fields, hops["parameters"], strict=True):
        control = f.xpath(".//input|.//select")[0]
        assert (control.get("required") is not None) is p["required"], p["name"]
        assert bool(f.xpath(".//abbr[@class='required']")) is p["required"], p["name"]
        assert f"({p['type']}, {'required' if p['required'] else 'optional'})" in f.text_content()
    assert forms[0].xpath(".//input[@name='reference']/@value") == ["TDR-2021-GW3"]
    # every required value was given, so it ran: at the named query's own URL
    ran = forms[0].xpath(".//p[contains(@class,'jt-ran')]//a/@href")
    assert ran == ["/queries/hops-of-reference?reference=TDR-2021-GW3"]
    assert "HTTP 200" in forms[0].xpath("string(.//p[contains(@class,'jt-ran')])")
    assert page.xpath("//*[contains(@class,'yasr')]//table//td"), "no results were drawn"
    assert "# name: hops-of-reference" in _editor_text(dom)  # its SPARQL, read-only


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_a_shared_link_opens_its_query_and_tabs_persist(served: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    text = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3 # shared-marker"
    share = "sparql#" + urlencode([("query", text), ("tab", "Shared by Ann")])
    dom = _dom(served, share, profile, "yasgui-shared-link.png")
    assert _tabs(dom) == ["Shared by Ann"]
    assert "shared-marker" in _editor_text(dom)
    page = lxml.html.fromstring(dom)
    assert page.xpath("//p[@class='share']/button[@id='share-button']")  # shown: JS ran
    assert not page.xpath("//p[@class='share'][@hidden]")
    # the same browser, later, without the link: the tab is still there (localStorage)
    again = _dom(served, "sparql", profile)
    assert _tabs(again) == ["Shared by Ann"] and "shared-marker" in _editor_text(again)
    # a fresh browser gets the one starting tab
    fresh = _dom(served, "sparql", tmp_path / "other-profile", "yasgui.png")
    assert _tabs(fresh) == ["Query"]


def test_the_plain_form_works_without_javascript(served: str) -> None:
    editor = httpx.get(served + "sparql", headers={"Accept": "text/html"})
    assert 'href="/sparql/form"' in editor.text
    answer = httpx.get(served + "sparql/form")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = lxml.html.fromstring(answer.text)
    assert not page.xpath("//script")
    form = page.xpath("//form[@class='sparql']")[0]
    assert (form.get("method"), form.get("action")) == ("get", "/sparql")
    assert form.xpath(".//button[@formmethod='post']")
    assert {"query", "format"} <= set(form.xpath(".//*[@name]/@name"))
    starter = form.xpath("string(.//textarea)")
    assert "PREFIX" in starter and "SELECT" in starter
    # what the browser sends on submit, by GET and by POST: a results page
    query = "SELECT ?producer WHERE { ?producer a ?kind } LIMIT 2"
    sent = {"query": query, "format": "html"}
    by_get = httpx.get(served + "sparql", params=sent)
    by_post = httpx.post(served + "sparql", data=sent)
    for result in (by_get, by_post):
        assert result.status_code == 200, result.text
        assert "<table class=results>" in result.text and "<th>producer</th>" in result.text
    filled = lxml.html.fromstring(httpx.get(served + "sparql/form", params={"query": query}).text)
    assert filled.xpath("string(//form[@class='sparql']//textarea)") == query


def test_the_plain_form_refuses_what_it_does_not_take(served: str) -> None:
    twice = httpx.get(served + "sparql/form?query=a&query=b")
    assert twice.status_code == 400 and "query is given 2 times" in twice.text
    other = httpx.get(served + "sparql/form", params={"format": "csv"})
    assert other.status_code == 400 and "'format'" in other.text


def test_a_named_query_page_links_to_its_tab(served: str) -> None:
    page = httpx.get(
        served + "queries/hops-of-reference",
        params={"reference": "TDR-2021-GW3"},
        headers={"Accept": "text/html"},
    )
    assert 'href="/sparql#named=hops-of-reference&amp;reference=TDR-2021-GW3"' in page.text


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_a_named_query_tab_says_what_is_wrong_with_a_value(served: str, tmp_path: Path) -> None:
    target = "sparql#named=messages-carrying-uuid&uuid=not-a-uuid"
    dom = _dom(served, target, tmp_path / "profile", "yasgui-named-query-error.png")
    page = lxml.html.fromstring(dom)
    form = page.xpath("//form[@class='jt-named'][@data-query='messages-carrying-uuid']")[0]
    assert "HTTP 400" in form.xpath("string(.//p[contains(@class,'jt-ran')])")
    alert = form.xpath(".//div[contains(@class,'jt-error')]")[0]
    assert alert.get("hidden") is None
    said = alert.text_content()
    assert "'uuid'" in said and "must be uuid" in said and "not-a-uuid" in said, said
    # Yasr's own error view links to the named query's page, not to a text query
    tries = page.xpath("//a[@class='yasr_tryQuery']/@href")
    assert tries == [f"{served}queries/messages-carrying-uuid?uuid=not-a-uuid"], tries
