"""pyoxigraph aborts the process on ORDER BY over xsd:dateTime values with and without a
timezone: a minimal reproduction, ready to report upstream (oxigraph/oxigraph).

    python tests/store/engine_sort_panic.py

pyoxigraph 0.5.13 (Rust 1.81+ sort) prints

    thread '<unnamed>' panicked at .../slice/sort/shared/smallsort.rs:…:
    user-provided comparison function does not correctly implement a total order

and the interpreter dies with SIGABRT (the wheels are built with panic=abort, so nothing
in Python can catch it). SPARQL's `<` between a dateTime with a timezone and one without
is indeterminate within fourteen hours, and ORDER BY hands that partial order to Rust's
sort, which since Rust 1.81 checks its comparator and panics. A jobtrail server is not
taken down by it: clients' queries run in query processes (bindings/sparql/isolation.py),
and tests/store/test_engine_panics.py says so the day this script stops crashing.
"""

import pyoxigraph as ox

XSD_DATETIME = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")
AT = ox.NamedNode("http://example.org/at")

store = ox.Store()
for i in range(100):
    zone = ("Z", "", "+05:00")[i % 3]  # with a timezone, without one, another one
    stamp = f"2020-01-01T{(i * 7) % 24:02d}:{(i * 13) % 60:02d}:00{zone}"
    store.add(
        ox.Quad(
            ox.NamedNode(f"http://example.org/{i}"), AT, ox.Literal(stamp, datatype=XSD_DATETIME)
        )
    )

solutions = list(store.query("SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o"))
print(f"sorted {len(solutions)} values: pyoxigraph {ox.__version__} no longer panics")
