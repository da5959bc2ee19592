"""TRE messages (ingest/tre.py through ingest/read.py): the seed's six, TNA's real examples,
and small variations of them for what the examples do not show."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from jobtrail.base import nt
from jobtrail.base.terms import JT, PROV, RDF

BASE = "http://127.0.0.1:8000/"  # the `read` fixture's base
XSD = "http://www.w3.org/2001/XMLSchema#"
UUID_SHAPE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
KNOWN_KEYS = {
    "reference",
    "originator",
    "number-of-retries",
    "errors",
    "resource",
    "resource-validation",
    "lambda-functions-version",
}
"""Parameter keys the reader turns into typed properties rather than jt:parameter."""
UUID_A = "0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2"
UUID_B = "0009885d-a1fc-46c0-a6c7-e45454545455"


def is_2023(doc: dict[str, Any]) -> bool:
    return "properties" in doc and "UUIDs" not in doc


def tre2022(**changes: Any) -> dict[str, Any]:
    """A small valid 2022-structure message; `changes` replace top-level keys."""
    doc: dict[str, Any] = {
        "version": "1.0.0",
        "timestamp": "1659631669",
        "UUIDs": [{"TDR-UUID": UUID_A}],
        "producer": {
            "name": "TDR",
            "process": "consignment-export",
            "type": "judgment",
            "environment": "INT",
        },
        "parameters": {"TDR": {"reference": "TDR-2021-GW3"}},
    }
    doc.update(changes)
    return doc


def tre2023(**props: Any) -> dict[str, Any]:
    """A small valid 2023-structure message; `props` replace keys of `properties`."""
    properties: dict[str, Any] = {
        "messageType": "uk.gov.nationalarchives.da.messages.bag.available.BagAvailable",
        "timestamp": "2023-03-29T11:00:12.280Z",
        "function": "tdr-export-process",
        "producer": "TDR",
        "executionId": "45be6508-b693-441d-a0d6-defb3f41c1fb",
        "parentExecutionId": None,
    }
    properties.update(props)
    return {"properties": properties, "parameters": {"reference": "TDR-1234-ABCD"}}


def parameter_sets(view: Any, m: str) -> dict[str, str]:
    """parameterOwner -> parameter set node, for one message."""
    return {view.value(p, JT.parameterOwner): p for p in view.objects(m, JT.parameterSet)}


def uuid_iri(value: str) -> str:
    return f"<urn:uuid:{value.lower()}>"


# ---------------------------------------------------------------- every message reads


def test_every_tre_message_reads_to_valid_rdf(read, view_of, tre_message) -> None:
    doc = json.loads(tre_message.data)
    m = read(tre_message.data, source=tre_message.name)
    kind = "TRE2023Message" if is_2023(doc) else "TRE2022Message"
    assert m.kind == kind
    view = view_of(m.graph.triples)
    for cls in ("Message", "TREMessage", kind):
        assert view.has(m.iri, RDF.type, JT[cls])
    # Oxigraph's own parser accepts every triple of the message and of its producer
    assert len(view.parse()) == len(m.graph.triples)
    assert len(view_of(m.all_triples()).parse()) == len(m.all_triples())


def test_the_seed_has_six_tre_messages_and_tna_both_structures(
    seed004_messages, tna_example_paths
) -> None:
    # guards the fixtures themselves: an extraction that finds nothing would make
    # the parametrised tests above vanish rather than fail
    assert len(seed004_messages) == 6
    structures = {is_2023(json.loads(p.read_bytes())) for p in tna_example_paths}
    assert structures == {False, True}
    assert not any(p.name == "tre-error.json" or "documents" in p.parts for p in tna_example_paths)


# ---------------------------------------------------------------- the message record


def test_same_bytes_same_iri_and_original_kept_verbatim(read, view_of, tre_message) -> None:
    data = tre_message.data
    first = read(data, source="a")
    again = read(data, source="b", base=BASE)
    sha = hashlib.sha256(data).hexdigest()
    assert first.iri == again.iri == f"{BASE}messages/{sha}"
    view = view_of(first.graph.triples)
    assert view.value(first.iri, JT.sha256) == sha
    assert view.value(first.iri, JT.byteSize) == str(len(data))
    # the literal decodes (N-Triples unescaping) back to exactly the bytes given
    kind, text, datatype = nt.parse_term(view.one(first.iri, JT.originalText))
    assert (kind, datatype) == ("literal", XSD + "string")
    assert text.encode("utf-8") == data


def test_one_byte_more_is_another_message(read) -> None:
    data = json.dumps(tre2022()).encode()
    assert read(data).iri != read(data + b"\n").iri


def test_message_iri_follows_the_base(read) -> None:
    data = json.dumps(tre2022()).encode()
    m = read(data, base="https://example.org/jt/")
    assert m.iri == "https://example.org/jt/messages/" + hashlib.sha256(data).hexdigest()
    assert m.shared[0].iri.startswith("https://example.org/jt/producers/")


@pytest.mark.parametrize(
    "text",
    [
        '\t"tabs",\r\n "quotes \\" and \\\\ backslashes"',
        '"unicode é ✓ 🙂 \u2028 line separator"',
        '"escaped \\u0001 control and \\n newline"',
    ],
    ids=["whitespace-escapes", "non-ascii", "json-escapes"],
)
def test_original_text_round_trips_awkward_characters(read, view_of, text) -> None:
    # the literal is written by a JSON encoder: these are the characters where
    # JSON's and N-Triples' escaping could disagree
    data = f'{{"UUIDs": [{{"TDR-UUID": "{UUID_A}"}}], "note": [{text}]}}'.encode()
    m = read(data)
    view = view_of(m.graph.triples)
    assert view.value(m.iri, JT.originalText).encode("utf-8") == data
    view.parse()


# ---------------------------------------------------------------- the UUID list


def test_uuid_list_kept_in_order(read, view_of, tre2022_message) -> None:
    doc = json.loads(tre2022_message.data)
    m = read(tre2022_message.data)
    view = view_of(m.graph.triples)
    entries = view.objects(m.iri, JT.uuidEntry)
    by_position = {int(view.value(e, JT.position)): e for e in entries}
    assert sorted(by_position) == list(range(len(doc["UUIDs"])))
    for i, item in enumerate(doc["UUIDs"]):
        ((label, value),) = item.items()
        e = by_position[i]
        assert view.value(e, JT.uuidLabel) == label
        assert view.one(e, JT.uuid) == uuid_iri(value)
    expected = [uuid_iri(next(iter(item.values()))) for item in doc["UUIDs"]]
    assert view.one(m.iri, JT.addedUUID) == expected[-1]
    assert set(view.objects(m.iri, JT.carriesUUID)) == set(expected)


def test_chain_of_the_seed_grows_by_one_uuid_per_hop(read, view_of, seed004_messages) -> None:
    # messages 1-3 are one thread: each hop keeps the list it got and adds one
    lists = []
    for block in seed004_messages[:3]:
        m = read(block.data)
        view = view_of(m.graph.triples)
        entries = sorted(
            view.objects(m.iri, JT.uuidEntry), key=lambda e: int(view.value(e, JT.position))
        )
        lists.append([view.one(e, JT.uuid) for e in entries])
    assert lists[1][:1] == lists[0] and lists[2][:2] == lists[1]
    assert [len(x) for x in lists] == [1, 2, 3]


@pytest.mark.parametrize(
    ("block", "value"),
    [(3, "0001d50d-a1fc-46c0-a6c7-ebc8309cfag3"), (4, "0009885d-a1fc-46c0-a6c7-e454545454h4")],
)
def test_not_quite_uuids_of_the_seed_are_still_urn_uuid_iris(
    read, view_of, seed004_messages, block, value
) -> None:
    m = read(seed004_messages[block - 1].data)
    view = view_of(m.graph.triples)
    assert f"<urn:uuid:{value}>" in view.objects(m.iri, JT.carriesUUID)
    assert view.one(m.iri, JT.addedUUID) == f"<urn:uuid:{value}>"


def test_placeholder_uuid_label_is_kept(read, view_of, seed004_messages) -> None:
    m = read(seed004_messages[4].data)
    view = view_of(m.graph.triples)
    labels = {view.value(e, JT.uuidLabel) for e in view.objects(m.iri, JT.uuidEntry)}
    assert "<name for caselaw>-UUID" in labels


def test_uuids_are_lowercased(read, view_of) -> None:
    m = read(json.dumps(tre2022(UUIDs=[{"TDR-UUID": UUID_A.upper()}])))
    view = view_of(m.graph.triples)
    assert view.one(m.iri, JT.addedUUID) == f"<urn:uuid:{UUID_A}>"


@pytest.mark.parametrize(
    "last",
    [{"TRE-UUID": 42}, {"TRE-UUID": None}, {"TRE-UUID": "has spaces in it"}],
    ids=["number", "null", "not-an-iri"],
)
def test_no_added_uuid_when_the_last_entry_is_not_one(read, view_of, last) -> None:
    m = read(json.dumps(tre2022(UUIDs=[{"TDR-UUID": UUID_A}, last])))
    view = view_of(m.graph.triples)
    assert view.objects(m.iri, JT.addedUUID) == []


# ---------------------------------------------------------------- timestamps


TIMESTAMPS = [
    ("1659631669", "2022-08-04T16:47:49Z"),  # the seed: epoch seconds as a string
    (1659631669, "2022-08-04T16:47:49Z"),
    (1659631669123, "2022-08-04T16:47:49.123Z"),  # milliseconds
    (1659631669123456, "2022-08-04T16:47:49.123456Z"),  # microseconds
    (1663666690368414700, "2022-09-20T09:38:10.368414700Z"),  # TNA: nanoseconds, all nine digits
    (1661155064000000001, "2022-08-22T07:57:44.000000001Z"),  # leading zeros of the fraction kept
    ("2023-03-29T11:00:12.280Z", "2023-03-29T11:00:12.280Z"),  # ISO strings kept as written
    ("2024-05-15T20:42:29.134+01:00", "2024-05-15T20:42:29.134+01:00"),
    ("yesterday", None),
    ("", None),
    ("2022-13-45T00:00:00Z", None),  # ISO-shaped but no such date
    (10**30, None),  # beyond any datetime
    ({"seconds": 1}, None),
    ([1659631669], None),
]


@pytest.mark.parametrize("structure", ["2022", "2023"])
@pytest.mark.parametrize(("raw", "expected"), TIMESTAMPS, ids=[repr(t[0])[:24] for t in TIMESTAMPS])
def test_timestamps(read, view_of, structure, raw, expected) -> None:
    doc = tre2022(timestamp=raw) if structure == "2022" else tre2023(timestamp=raw)
    m = read(json.dumps(doc))
    view = view_of(m.graph.triples)
    generated = view.objects(m.iri, PROV.generatedAtTime)
    if expected is None:
        assert generated == []
    else:
        assert generated == [nt.typed(expected, XSD + "dateTime")]
    # the raw value is always kept, as the message gave it when it gave a string
    raw_text = view.value(m.iri, JT.rawTimestamp)
    if isinstance(raw, str):
        assert raw_text == raw
    elif isinstance(raw, int):
        assert raw_text == str(raw)


def test_tna_nanosecond_timestamp_from_the_real_file(read, view_of, tna_example_paths) -> None:
    path = next(p for p in tna_example_paths if p.name == "dri-preingest-sip-available.json")
    m = read(path.read_bytes())
    view = view_of(m.graph.triples)
    assert view.value(m.iri, PROV.generatedAtTime) == "2022-09-20T09:38:10.368414700Z"
    assert view.value(m.iri, JT.rawTimestamp) == "1663666690368414700"


@pytest.mark.parametrize(("raw", "as_json"), [(True, "true"), ({"s": 1}, '{"s": 1}')])
def test_raw_timestamp_of_a_non_string_is_its_json(read, view_of, raw, as_json) -> None:
    m = read(json.dumps(tre2022(timestamp=raw)))
    assert json.loads(view_of(m.graph.triples).value(m.iri, JT.rawTimestamp)) == raw


# ---------------------------------------------------------------- producers


def expected_producer(doc: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The producer IRI and literals a message should name, from its JSON."""
    if is_2023(doc):
        props = doc["properties"]
        parts = {"producerName": props["producer"], "process": props["function"]}
    else:
        p = doc["producer"]
        parts = {
            "producerName": p["name"],
            "process": p["process"],
            "environment": p["environment"],
        }
    return BASE + "producers/" + "/".join(parts.values()), parts


def test_producer_has_its_own_shared_graph(read, view_of, tre_message) -> None:
    doc = json.loads(tre_message.data)
    iri, parts = expected_producer(doc)
    m = read(tre_message.data)
    assert [g.iri for g in m.shared] == [iri]
    producer = view_of(m.shared[0].triples)
    assert producer.has(iri, RDF.type, JT.Producer)
    assert producer.has(iri, RDF.type, PROV.SoftwareAgent)
    for prop, value in parts.items():
        assert producer.value(iri, JT[prop]) == value
    view = view_of(m.graph.triples)
    assert view.one(m.iri, PROV.wasAttributedTo) == f"<{iri}>"
    # the producer is described in its own graph only, not copied into each message
    assert view.objects(iri, JT.producerName) == []
    run = view.one(m.iri, PROV.wasGeneratedBy)
    assert view.has(run, PROV.wasAssociatedWith, iri)


def test_producer_type_and_event_name_stay_on_the_message(read, view_of, tna_example_paths) -> None:
    path = next(p for p in tna_example_paths if p.name == "tdr-to-tre-example.json")
    m = read(path.read_bytes())
    view = view_of(m.graph.triples)
    assert view.value(m.iri, JT.producerType) == "standard"
    assert view.value(m.iri, JT.eventName) == "bagit-available"


def test_messages_of_one_producer_name_the_same_producer(read, seed004_messages) -> None:
    first, third = (read(seed004_messages[i].data) for i in (0, 2))
    assert first.iri != third.iri
    assert (
        first.shared[0].iri == third.shared[0].iri == f"{BASE}producers/TDR/consignment-export/INT"
    )


def test_producer_iri_segments_are_escaped(read) -> None:
    doc = tre2022(producer={"name": "TDR/x", "process": "a b", "environment": "INT"})
    assert read(json.dumps(doc)).shared[0].iri == f"{BASE}producers/TDR%2Fx/a%20b/INT"


def test_producers_differing_in_which_part_is_missing_are_distinct(read) -> None:
    a = read(json.dumps(tre2022(producer={"name": "TDR", "environment": "INT"})))
    b = read(json.dumps(tre2022(producer={"name": "TDR", "process": "INT"})))
    assert a.shared[0].iri != b.shared[0].iri


# ---------------------------------------------------------------- parameters


def owned_parameters(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """parameterOwner -> the JSON object of that parameter set, as the reader files them."""
    if is_2023(doc):
        known = {
            "timestamp",
            "producer",
            "function",
            "messageType",
            "executionId",
            "parentExecutionId",
            "messageId",
            "parentMessageId",
        }
        extra = {k: v for k, v in doc["properties"].items() if k not in known}
        return {"parameters": doc["parameters"], **({"properties": extra} if extra else {})}
    return dict(doc.get("parameters", {}))


def test_every_other_key_is_a_parameter_whose_json_round_trips(read, view_of, tre_message) -> None:
    # across every real message: nothing is dropped, and each value comes back as JSON
    doc = json.loads(tre_message.data)
    m = read(tre_message.data)
    view = view_of(m.graph.triples)
    sets = parameter_sets(view, m.iri)
    owned = owned_parameters(doc)
    assert set(sets) == set(owned)
    for owner, values in owned.items():
        p = sets[owner]
        assert view.has(p, RDF.type, JT.ParameterSet)
        kept = {}
        for node in view.objects(p, JT.parameter):
            literal = view.one(node, JT.value)
            assert nt.parse_term(literal)[2] == str(RDF.JSON)
            kept[view.value(node, JT.key)] = json.loads(nt.parse_term(literal)[1])
        generic = {
            k: v
            for k, v in values.items()
            if k not in KNOWN_KEYS and not (k.endswith("-version") and isinstance(v, str))
        }
        assert kept == generic


@pytest.mark.parametrize(
    ("key", "value", "prop", "expected"),
    [
        ("number-of-retries", "0", JT.numberOfRetries, nt.integer(0)),  # the seed's string
        ("number-of-retries", 0, JT.numberOfRetries, nt.integer(0)),  # the seed's integer
        ("number-of-retries", " 3 ", JT.numberOfRetries, nt.integer(3)),
        ("number-of-retries", "many", JT.numberOfRetries, nt.lit("many")),  # kept; the shapes judge
        ("reference", "TDR-2021-GW3", JT.reference, nt.lit("TDR-2021-GW3")),
        ("originator", "FCL", JT.originator, nt.lit("FCL")),
    ],
)
def test_known_scalar_parameters(read, view_of, key, value, prop, expected) -> None:
    m = read(json.dumps(tre2022(parameters={"TRE": {key: value}})))
    view = view_of(m.graph.triples)
    assert view.objects(parameter_sets(view, m.iri)["TRE"], prop) == [expected]


@pytest.mark.parametrize(
    ("errors", "messages"),
    [
        (
            [{"error": "validation failed"}, {"error": "xxxx....."}],
            ["validation failed", "xxxx....."],
        ),
        (['Copy not allowed; "x" already exists'], ['Copy not allowed; "x" already exists']),
        ("one plain string", ["one plain string"]),
    ],
    ids=["error-objects", "plain-strings", "not-a-list"],
)
def test_errors(read, view_of, errors, messages) -> None:
    m = read(json.dumps(tre2022(parameters={"TRE": {"errors": errors}})))
    view = view_of(m.graph.triples)
    nodes = view.objects(parameter_sets(view, m.iri)["TRE"], JT.error)
    assert all(view.has(e, RDF.type, JT.Error) for e in nodes)
    assert sorted(view.value(e, JT.errorMessage) for e in nodes) == sorted(messages)


def test_errors_of_the_seed_and_of_tna(read, view_of, seed004_messages, tna_example_paths) -> None:
    cases = [
        (seed004_messages[1].data, "TRE", {"validation failed", "xxxx....."}),
        (seed004_messages[4].data, "Access", {"validation failed", "xxxx....."}),
        (
            next(
                p for p in tna_example_paths if p.name == "dri-preingest-sip-error.json"
            ).read_bytes(),
            "dri-preingest-sip-error",
            {
                'Copy not allowed; "consignments/standard/foo/bar/foo/sip/bar.tar.gz.sha256" '
                'already exists in bucket "dev-tre-dpsg-out"'
            },
        ),
    ]
    for data, owner, expected in cases:
        m = read(data)
        view = view_of(m.graph.triples)
        p = parameter_sets(view, m.iri)[owner]
        assert {view.value(e, JT.errorMessage) for e in view.objects(p, JT.error)} == expected


def test_resource_and_resource_validation_of_the_seed(read, view_of, seed004_messages) -> None:
    doc = json.loads(seed004_messages[0].data)["parameters"]["TDR"]
    m = read(seed004_messages[0].data)
    view = view_of(m.graph.triples)
    p = parameter_sets(view, m.iri)["TDR"]
    assert view.value(p, JT.numberOfRetries) == "0"
    resource = view.one(p, JT.resource)
    validation = view.one(p, JT.resourceValidation)
    assert view.one(resource, JT.location) == f"<{doc['resource']['value']}>"
    assert view.one(validation, JT.location) == f"<{doc['resource-validation']['value']}>"
    assert view.value(validation, JT.validationMethod) == "SHA256"
    for node in (resource, validation):
        assert view.value(node, JT.resourceType) == "Object"
        assert view.value(node, JT.accessType) == "url"
    assert view.objects(resource, JT.validationMethod) == []


def test_a_resource_value_that_is_no_url_is_kept_as_a_literal(read, view_of) -> None:
    m = read(json.dumps(tre2022(parameters={"TDR": {"resource": {"value": "not a url"}}})))
    view = view_of(m.graph.triples)
    resource = view.one(parameter_sets(view, m.iri)["TDR"], JT.resource)
    assert view.one(resource, JT.location) == nt.lit("not a url")


def test_software_versions_of_the_seed(read, view_of, seed004_messages) -> None:
    doc = json.loads(seed004_messages[3].data)["parameters"]["TRE"]
    m = read(seed004_messages[3].data)
    view = view_of(m.graph.triples)
    p = parameter_sets(view, m.iri)["TRE"]
    versions = {
        view.value(n, JT.softwareName): view.value(n, JT.version)
        for n in view.objects(p, JT.softwareVersion)
    }
    expected = {"prod-tre": doc["prod-tre-version"]}
    for item in doc["lambda-functions-version"]:
        expected.update(item)
    assert versions == expected
    assert len(expected) == 7
    assert view.value(p, JT.numberOfRetries) == "0"


@pytest.mark.parametrize(
    ("link", "cls"),
    [
        (JT.softwareVersion, JT.SoftwareVersion),
        (JT.resource, JT.ResourceLocator),
        (JT.resourceValidation, JT.ResourceValidation),
        (JT.parameter, JT.Parameter),
        (JT.uuidEntry, JT.UUIDEntry),
    ],
    ids=lambda x: str(x).rsplit("#", 1)[-1],
)
def test_nodes_are_typed_with_their_class(read, view_of, seed004_messages, link, cls) -> None:
    m = read(seed004_messages[3].data)  # has every kind of node but a resource
    m0 = read(seed004_messages[0].data)
    view = view_of(m.graph.triples + m0.graph.triples)
    nodes = [o for s, p, o in view.triples if p == f"<{link}>"]
    assert nodes
    assert all(view.has(n, RDF.type, cls) for n in nodes)


# ---------------------------------------------------------------- the 2023 structure


def test_2023_execution_ids(read, view_of, tre2023_message) -> None:
    doc = json.loads(tre2023_message.data)
    props = doc["properties"]
    m = read(tre2023_message.data)
    view = view_of(m.graph.triples)
    assert view.value(m.iri, JT.messageType) == props["messageType"]
    for key, link in (("executionId", JT.addedUUID), ("parentExecutionId", JT.carriesUUID)):
        given = props.get(key)
        assert view.values(m.iri, JT[key]) == ([] if given is None else [given])
        if given is not None and UUID_SHAPE.match(given):
            assert uuid_iri(given) in view.objects(m.iri, link)
    execution = props["executionId"]
    added = [uuid_iri(execution)] if UUID_SHAPE.match(execution) else []
    assert view.objects(m.iri, JT.addedUUID) == added
    for key in ("messageId", "parentMessageId"):
        assert view.values(m.iri, JT[key]) == ([props[key]] if key in props else [])


@pytest.mark.parametrize(
    ("execution", "parent", "added", "carried"),
    [
        (UUID_A.upper(), UUID_B, [UUID_A], {UUID_B}),
        ("executionId344", UUID_B, [], {UUID_B}),
        (UUID_A, "inputMessageExecutionId", [UUID_A], set()),
        (UUID_A, None, [UUID_A], set()),
    ],
    ids=["uuids", "execution-not-uuid", "parent-not-uuid", "no-parent"],
)
def test_2023_uuid_links(read, view_of, execution, parent, added, carried) -> None:
    m = read(json.dumps(tre2023(executionId=execution, parentExecutionId=parent)))
    view = view_of(m.graph.triples)
    assert view.objects(m.iri, JT.addedUUID) == [uuid_iri(u) for u in added]
    assert {uuid_iri(u) for u in carried} <= set(view.objects(m.iri, JT.carriesUUID))
    # the values as given stay literals, whatever their shape
    assert view.value(m.iri, JT.executionId) == execution
    assert view.values(m.iri, JT.parentExecutionId) == ([] if parent is None else [parent])


def test_2023_added_uuid_is_also_carried(read, view_of) -> None:
    m = read(json.dumps(tre2023(executionId=UUID_A, parentExecutionId=UUID_B)))
    view = view_of(m.graph.triples)
    assert set(view.objects(m.iri, JT.carriesUUID)) == {uuid_iri(UUID_A), uuid_iri(UUID_B)}


def test_tna_template_reads_but_keeps_its_odd_keys_as_parameters(
    read, view_of, tna_template
) -> None:
    # tre-error.json has "timestamp.$" and "executionId.$": a template, not a message.
    # The reader never judges: it reads, says no time, and keeps the odd keys.
    doc = json.loads(tna_template.read_bytes())
    m = read(tna_template.read_bytes())
    assert m.kind == "TRE2023Message"
    view = view_of(m.graph.triples)
    assert view.objects(m.iri, PROV.generatedAtTime) == []
    assert view.objects(m.iri, JT.executionId) == []
    p = parameter_sets(view, m.iri)["properties"]
    keys = {view.value(n, JT.key) for n in view.objects(p, JT.parameter)}
    assert keys == {k for k in doc["properties"] if k.endswith(".$")}


@pytest.mark.parametrize(
    ("producer", "path"),
    [
        ({"name": "TDR", "environment": "INT"}, "TDR/-/INT"),
        ({"name": "TDR", "process": "INT"}, "TDR/INT/-"),
        ({"name": "TDR", "process": None, "environment": "INT"}, "TDR/-/INT"),  # null: missing
        ({"name": "TDR", "process": "-", "environment": "INT"}, "TDR/%2D/INT"),  # not missing
        ({"name": "TDR", "process": "", "environment": "INT"}, "TDR//INT"),
        ({"name": "TDR", "process": 42, "environment": "INT"}, "TDR/;42/INT"),  # not "42"
        ({"name": "TDR", "process": "42", "environment": "INT"}, "TDR/42/INT"),
    ],
)
def test_producer_iri_has_a_segment_for_every_part(read, producer, path) -> None:
    assert read(json.dumps(tre2022(producer=producer))).shared[0].iri == f"{BASE}producers/{path}"


def test_2023_producer_iri_is_name_and_function(read) -> None:
    assert read(json.dumps(tre2023())).shared[0].iri == f"{BASE}producers/TDR/tdr-export-process"
    assert read(json.dumps(tre2023(function=None))).shared[0].iri == f"{BASE}producers/TDR/-"


def test_resource_validation_is_typed_with_its_superclass_too(
    read, view_of, seed004_messages
) -> None:
    m = read(seed004_messages[0].data)
    view = view_of(m.graph.triples)
    (validation,) = [o for s, p, o in view.triples if p == f"<{JT.resourceValidation}>"]
    assert view.has(validation, RDF.type, JT.ResourceLocator)


@pytest.mark.parametrize(
    ("v", "lexical"), [(float("inf"), "INF"), (float("-inf"), "-INF"), (float("nan"), "NaN")]
)
def test_non_finite_floats_are_written_in_xsd_lexical_forms(v, lexical) -> None:
    from jobtrail.ingest import tre

    assert tre.value(v) == nt.typed(lexical, XSD + "double")
