"""GET /messages as a faceted browser: filters, facet counts, sorting, on a real server.

The server holds the examples (31 messages) and two more posted here: an HTTP 503 response
(an error) and a TRE message whose reference and producer hold quotes, braces and `>`. Every
filter's answer is checked against a SPARQL query of its own; every facet count against the
rows its link lists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import httpx
import lxml.html
import pytest
import rdflib

from tests.conftest import CHROMIUM, EXAMPLES_DIR, PRODUCER, headless_chromium, jobtrail_server

JT = "https://w3id.org/jobtrail/vocab#"
PROV = "http://www.w3.org/ns/prov#"
HTTP = "http://www.w3.org/2011/http#"
TRICKY = 'TDR-"q"} UNION { ?m ?p ?o } >\nx'
FAILED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\ndown"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jobtrail_server(tmp_path_factory.mktemp("facets") / "data") as base:
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post(
                "/messages", content=FAILED, headers={**PRODUCER, "Content-Type": "message/http"}
            )
            assert r.status_code == 201, r.text
            doc = json.loads(
                (EXAMPLES_DIR / "tre-enhanced-messages/01-tdr-export.json").read_text()
            )
            doc["parameters"]["TDR"]["reference"] = TRICKY
            doc["producer"]["name"] = 'T"D}R>'
            r = c.post("/messages", json=doc, headers=PRODUCER)
            assert r.status_code == 201, r.text
        yield base


def select(base: str, where: str) -> set[str]:
    """The messages ?m a SPARQL pattern finds (the ground truth of a filter)."""
    query = f"SELECT DISTINCT ?m WHERE {{ GRAPH ?m {{ ?m a <{JT}Message> }} {where} }}"
    r = httpx.get(
        base + "sparql", params={"query": query}, headers={"Accept": "application/json"}, timeout=60
    )
    assert r.status_code == 200, r.text
    return {row["m"]["value"] for row in r.json()["results"]["bindings"]}


def entries(base: str, **params: str) -> list[feedparser.FeedParserDict]:
    """Every entry of the Atom feed with these parameters (following its next links)."""
    url: str | None = base + "messages.atom"
    found: list[feedparser.FeedParserDict] = []
    first = True
    while url:
        r = httpx.get(url, params={**params, "size": "7"} if first else None, timeout=60)
        assert r.status_code == 200, r.text
        feed = feedparser.parse(r.content)
        assert not feed.bozo, feed.get("bozo_exception")
        found += feed.entries
        url = next((x["href"] for x in feed.feed.links if x.get("rel") == "next"), None)
        first = False
    return found


def ids(base: str, **params: str) -> set[str]:
    found = [e.id for e in entries(base, **params)]
    assert len(found) == len(set(found))
    return set(found)


REFS = f"(<{JT}reference>|<{JT}parameterSet>/<{JT}reference>)"
TRUTH = {
    "producer=TRE": f"GRAPH ?m {{ ?m <{PROV}wasAttributedTo> ?a }} ?a <{JT}producerName> 'TRE'",
    "kind=TREMessage": f"GRAPH ?m {{ ?m a <{JT}TREMessage> }}",
    "kind=http:Response": f"GRAPH ?m {{ ?m a <{HTTP}Response> }}",
    "warnings=1": f"GRAPH ?m {{ ?m <{JT}validationWarning> ?w }}",
    "warnings=0": f"FILTER NOT EXISTS {{ GRAPH ?m {{ ?m <{JT}validationWarning> ?w }} }}",
    "errors=1": f"GRAPH ?m {{ {{ ?m <{JT}parameterSet>/<{JT}error> ?e }} UNION "
    f"{{ ?m <{HTTP}statusCodeValue> ?c FILTER(?c >= 400) }} }}",
    "reference=TDR-2021-GW3": f"GRAPH ?m {{ ?m {REFS} ?r }} "
    "FILTER(?r = 'TDR-2021-GW3' || STRENDS(?r, '-TDR-2021-GW3'))",
    "uuid=0001D50D-a1fc-46c0-a6c7-ebc8309cfaf2": f"GRAPH ?m {{ ?m <{JT}carriesUUID> "
    "<urn:uuid:0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2> }",
    "q=gw3": f"GRAPH ?m {{ ?m {REFS} ?r }} FILTER(CONTAINS(LCASE(?r), 'gw3'))",
    "q=EBC8309CFAF2": f"GRAPH ?m {{ ?m <{JT}carriesUUID> ?u }} "
    "FILTER(CONTAINS(STR(?u), 'ebc8309cfaf2'))",
}


@pytest.mark.parametrize("query", TRUTH)
def test_each_filter_keeps_what_sparql_finds(server: str, query: str) -> None:
    name, _, value = query.partition("=")
    expected = select(server, TRUTH[query])
    assert expected and expected != select(server, "")  # it narrows, to something
    assert ids(server, **{name: value}) == expected


def test_errors_hold_the_reported_ones_and_the_failed_response(server: str) -> None:
    errors = {e.id: e.title for e in entries(server, errors="1")}
    assert any("503" in t for t in errors.values()), errors
    assert any("TRE message" in t for t in errors.values()), errors
    assert ids(server, errors="0") == select(server, "") - set(errors)


def test_filters_combine(server: str) -> None:
    both = ids(server, producer="TRE", warnings="1", kind="TRE2022Message")
    assert both == ids(server, producer="TRE") & ids(server, warnings="1")
    assert both and ids(server, producer="TRE", errors="1") < ids(server, producer="TRE")


def test_producer_by_iri_and_by_name(server: str) -> None:
    tre = entries(server, producer="TRE")
    iri = f"{server}producers/TRE/dri-sip-export/INT"
    one = ids(server, producer=iri)
    assert len(one) == 1 and one < {e.id for e in tre}
    assert ids(server, producer="no-such-producer") == set()


def test_since_and_until_take_years_months_days_and_times(server: str) -> None:
    every = select(server, "")
    stored = entries(server)[0].updated[:10]  # today, UTC: every message was stored today
    for since, until in [(stored[:4], stored[:4]), (stored[:7], stored), (stored, stored)]:
        assert ids(server, since=since, until=until) == every
    assert ids(server, until="2000-01") == set()
    assert ids(server, since=f"{int(stored[:4]) + 1}") == set()
    assert ids(server, since=f"{stored}T00:00:00Z", until=f"{stored}T23:59:59.999999+00:00") == (
        every
    )


def test_injection_attempts_are_literals(server: str) -> None:
    """Quotes, braces, `>` and newlines reach the query only escaped: the message that holds
    them is found by them, and nothing else is."""
    tricky = ids(server, reference=TRICKY)
    assert len(tricky) == 1
    assert ids(server, q='"q"} UNION') == tricky
    assert ids(server, producer='T"D}R>') == tricky
    for value in ['"} UNION { ?m ?p ?o } #', "x\n} #HIDE", "#FILTERS", "> <", "\\"]:
        assert ids(server, q=value) == set(), value
        assert ids(server, reference=value) == set(), value


# ------------------------------------------------------------------ facets, in the HTML


def facets(html: str) -> dict[str, list[tuple[str, int, str | None]]]:
    """The facets of a page: title → [(label, count, link or None)]."""
    doc = lxml.html.fromstring(html)
    out = {}
    for section in doc.xpath("//aside[@class='facets']/section"):
        values = []
        for li in section.xpath(".//li[span[@class='count']]"):
            links = li.xpath("./a/@href")
            label = li.xpath("string(./a|./b)") or li.text or ""
            count = int(li.xpath("string(./span[@class='count'])").replace(",", ""))
            values.append((label.strip(), count, links[0] if links else None))
        out[section.xpath("string(h2)")] = values
    return out


SETS = {
    "Producer": {"producer"},
    "Kind": {"kind"},
    "Validation warnings": {"warnings"},
    "Errors reported": {"errors"},
}
"""The filters each facet's links set (the time facet's: since and until)."""


def total(html: str) -> int:
    text = lxml.html.fromstring(html).xpath("string(//section[@class='results']/p)")
    return int(text.split()[0].replace(",", ""))


@pytest.mark.parametrize("start", ["", "producer=TRE", "warnings=0&kind=HTTPMessage"])
def test_every_facet_count_is_the_number_of_rows_its_link_lists(server: str, start: str) -> None:
    page = httpx.get(f"{server}messages.html?{start}", timeout=60)
    assert page.status_code == 200, page.text
    found = facets(page.text)
    assert set(found) >= {"Producer", "Kind", "Validation warnings", "Errors reported"}
    assert any(t.startswith("Stored per") for t in found)
    before = parse_qs(start)
    checked = 0
    for title, values in found.items():
        for label, count, link in values:
            if link is None:  # a chosen value (or one of none)
                continue
            params = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
            own = SETS.get(title, {"since", "until"})
            for k, v in before.items():  # a facet's link keeps the other filters there were
                if k not in own:
                    assert params[k] == v[0], (title, label, link)
            assert len(ids(server, **params)) == count, (title, label, link)
            checked += 1
    assert checked >= 5
    flags = dict((label, n) for label, n, _ in found["Validation warnings"])
    assert (
        sum(flags.values())
        == total(page.text)
        == len(ids(server, **{k: v[0] for k, v in before.items()}))
    )


def test_active_filters_can_be_removed(server: str) -> None:
    page = httpx.get(
        f"{server}messages.html", params={"producer": "TRE", "warnings": "1"}, timeout=60
    )
    doc = lxml.html.fromstring(page.text)
    chips = doc.xpath("//p[@class='active-filters']/span[@class='chip']")
    assert len(chips) == 2
    remove = chips[0].xpath("./a/@href")[0]
    assert parse_qs(urlsplit(remove).query) == {"warnings": ["1"]}
    clear = doc.xpath("//a[@class='clear']/@href")[0]
    assert urlsplit(clear).query == ""
    chosen = doc.xpath("//li[@class='chosen']")
    assert chosen  # the chosen warnings value, with a link removing it
    form = doc.xpath("//form[@class='filters']")[0]
    hidden = {i.get("name"): i.get("value") for i in form.xpath(".//input[@type='hidden']")}
    assert hidden == {"producer": "TRE", "warnings": "1"}


def test_the_formats_and_the_pager_keep_the_filters(server: str) -> None:
    page = httpx.get(
        f"{server}messages.html", params={"kind": "HTTPMessage", "size": "5"}, timeout=60
    )
    doc = lxml.html.fromstring(page.text)
    for href in doc.xpath("//nav[@class='formats']/a/@href | //nav[@class='pager']/a/@href"):
        assert "kind=HTTPMessage" in href and "size=5" in href, href
    r = httpx.get(
        f"{server}messages", params={"kind": "HTTPMessage", "size": "5", "page": "2"}, timeout=60
    )
    assert 'kind=HTTPMessage&page=3&size=5>; rel="next"' in r.headers["link"]


# ------------------------------------------------------------------ sorting


def test_sorting_by_time_producer_and_kind(server: str) -> None:
    newest = [e.updated for e in entries(server)]
    assert newest == sorted(newest, reverse=True)
    oldest = [e.updated for e in entries(server, sort="time", order="asc")]
    assert oldest == sorted(oldest)
    by_producer = [e.get("author") for e in entries(server, sort="producer")]
    named = [a for a in by_producer if a]
    assert named == sorted(named) and by_producer[: len(named)] == named  # none: last
    backwards = [e.get("author") for e in entries(server, sort="producer", order="desc")]
    assert [a for a in backwards if a] == sorted(named, reverse=True)
    kinds = [e.title.split(" — ")[0].split(", ")[0] for e in entries(server, sort="kind")]
    assert kinds == sorted(kinds) and len(set(kinds)) >= 2
    assert ids(server, sort="kind") == select(server, "")


def test_sortable_headers(server: str) -> None:
    doc = lxml.html.fromstring(httpx.get(f"{server}messages.html?sort=producer", timeout=60).text)
    sorted_by = doc.xpath("//th[@aria-sort]")
    assert len(sorted_by) == 1 and sorted_by[0].get("aria-sort") == "ascending"
    assert "order=desc" in sorted_by[0].xpath("./a/@href")[0]
    others = doc.xpath("//table[@class='messages']//th/a/@href")
    assert any("sort=time" in h for h in others) and any("sort=kind" in h for h in others)


# ------------------------------------------------------------------ formats


def test_atom_and_rdf_with_filters(server: str) -> None:
    r = httpx.get(f"{server}messages", params={"producer": "TRE", "size": "2"}, timeout=60)
    feed = feedparser.parse(r.content)
    assert not feed.bozo and len(feed.entries) == 2
    assert feed.feed.id == f"{server}messages?producer=TRE"  # a filtered feed is another feed
    assert "producer TRE" in feed.feed.title
    kept = ids(server, producer="TRE")
    r = httpx.get(f"{server}messages.ttl", params={"producer": "TRE", "size": "100"}, timeout=60)
    graph = rdflib.Graph().parse(data=r.text, format="turtle")
    feed_iri = rdflib.URIRef(f"{server}messages?producer=TRE")
    members = {str(o) for o in graph.objects(feed_iri, rdflib.URIRef(PROV + "hadMember"))}
    assert members == kept


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("color=red", "takes no parameter 'color'"),
        ("color=red", "the filters: producer, kind, since, until, warnings"),
        ("producer=TRE&producer=TDR", "give producer once"),
        ("kind=Telegram", "TREMessage"),
        ("since=yesterday", "since must be a date"),
        ("until=2022-02-30", "until is not a date"),
        ("since=2023&until=2022", "since (2023) is after until (2022)"),
        ("warnings=maybe", "warnings must be 1 or 0"),
        ("errors=2", "errors must be 1 or 0"),
        ("uuid=not-a-uuid", "uuid must be a UUID"),
        ("producer=a:b%20c", "producer must be a producer's name"),
        ("sort=size", "sort must be one of time, producer, kind"),
        ("order=sideways", "order must be asc or desc"),
        (f"q={'x' * 5000}", "q is longer than 200 characters"),
        (f"reference={'x' * 600}", "reference is longer than 500 characters"),
    ],
)
@pytest.mark.parametrize("ext", ["", ".html", ".ttl"])
def test_bad_filters_are_400_naming_them(server: str, query: str, words: str, ext: str) -> None:
    r = httpx.get(
        f"{server}messages{ext}?{query}", headers={"Accept": "application/problem+json"}, timeout=60
    )
    assert r.status_code == 400, r.text[:500]
    assert words in r.text


def test_an_empty_filter_is_no_filter(server: str) -> None:
    assert ids(server, producer="", q="", since="") == select(server, "")


# ------------------------------------------------------------------ what a person sees


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_the_faceted_page_in_headless_chromium(server: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("JOBTRAIL_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    for name, query in [("messages", ""), ("messages-filtered", "?producer=TRE&sort=producer")]:
        png = shots / f"{name}.png"
        result = subprocess.run(
            headless_chromium(
                tmp_path / "profile",
                "--window-size=1400,1000",
                f"--screenshot={png}",
                f"{server}messages.html{query}",
            ),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert png.stat().st_size > 10_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_kind_by_name_prefixed_name_or_iri(server: str) -> None:
    tre = ids(server, kind="TREMessage")
    assert tre == ids(server, kind="jt:TREMessage") == ids(server, kind=JT + "TREMessage")
    assert ids(server, kind="Request") == ids(server, kind="http:Request")
    assert ids(server, kind="http://www.w3.org/ns/prov#Entity") == set()  # a class: none here
