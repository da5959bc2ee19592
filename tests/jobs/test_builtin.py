"""The built-in profiles on real files made here: Word 97 and .docx documents, PDFs, audio, bags."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
import time
import wave
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import docx
import pytest
import rdflib
from jobtrail.base.errors import JobFailed
from jobtrail.jobs.builtin import (
    BagValidation,
    DocumentToText,
    ExtractTechnicalMetadata,
    Fixity,
    builtin_profiles,
)
from jobtrail.jobs.profiles import Outcome, Work
from pyld import jsonld

from tests.jobs.worddoc import word97

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RESULTS = "http://s/jobs/1/results"
LOC = "http://id.loc.gov/vocabulary/preservation/"
PREMIS = "http://www.loc.gov/premis/rdf/v3/"
needs_antiword = pytest.mark.skipif(not shutil.which("antiword"), reason="antiword not installed")
needs_ffprobe = pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffprobe not installed")


@pytest.fixture
def make_work(tmp_path: Path) -> Callable[..., Work]:
    """A Work on the bytes given, fetched as the worker does: to a file named `input`."""

    def make(
        data: bytes,
        url: str,
        media_type: str | None = None,
        fetch_small: Callable[[str], bytes] | None = None,
        **parameters: Any,
    ) -> Work:
        (tmp_path / "input").write_bytes(data)
        out = tmp_path / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        return Work(
            job_iri="http://s/jobs/1",
            input_url=url,
            input_path=tmp_path / "input",
            media_type=media_type,
            parameters=parameters,
            output_dir=out,
            results_iri=RESULTS,
            deadline=time.monotonic() + 30,
            fetch_small=fetch_small,
        )

    return make


def graph(outcome: Outcome) -> rdflib.Graph:
    """The outcome's triples, parsed as N-Triples: they must be well-formed."""
    text = "".join(f"{s} {p} {o} .\n" for s, p, o in outcome.triples)
    return rdflib.Graph().parse(data=text, format="nt")


def event_outcome(outcome: Outcome) -> str:
    g = graph(outcome)
    value = g.value(rdflib.URIRef(f"{RESULTS}#fixity"), rdflib.URIRef(f"{PREMIS}outcome"))
    return str(value)


def tiny_pdf(text: str, title: str) -> bytes:
    """A one-page PDF, written by hand: one text object in Helvetica, and an Info title."""
    content = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        f"<< /Title ({title}) >>".encode(),
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    pdf += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(pdf)


def docx_bytes(paragraphs: list[str], title: str | None) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "cell one", "cell two"
    if title:
        document.core_properties.title = title
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- the set -------------------------------------------------------------------------------------


def test_the_four_builtin_profiles() -> None:
    profiles = builtin_profiles()
    assert set(profiles) == {
        "DocumentToText",
        "Fixity",
        "ExtractTechnicalMetadata",
        "BagValidation",
    }
    for name, profile in profiles.items():
        assert profile.name == name and profile.title and profile.description
        reason = profile.unavailable()
        assert reason is None or (isinstance(reason, str) and reason)


# --- DocumentToText ------------------------------------------------------------------------------


@needs_antiword
@pytest.mark.parametrize("compressed", [True, False], ids=["8-bit", "utf-16"])
@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        ("http://h/files/report.doc", "application/msword"),
        ("http://h/files/report.doc", None),  # by extension and signature
        ("http://h/files/report", "application/octet-stream"),  # by the OLE2 signature alone
    ],
)
def test_a_word_97_document_becomes_text(
    make_work: Callable[..., Work], compressed: bool, url: str, media_type: str | None
) -> None:
    paragraphs = ["Minutes of the meeting", "Café au lait was served.", "Next meeting: Tuesday"]
    work = make_work(word97(paragraphs, compressed=compressed), url, media_type)
    outcome = DocumentToText().run(work)
    (result,) = outcome.files
    assert result.name == "report.txt" and result.media_type == "text/plain"
    assert result.rendition and result.title == url.rsplit("/", 1)[1]
    text = (work.output_dir / result.name).read_text(encoding="utf-8")
    assert text.splitlines()[:3] == paragraphs
    assert outcome.failure is None and outcome.summary == "12 words"


def test_a_word_97_document_without_antiword_names_the_program(
    make_work: Callable[..., Work], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no antiword on it
    work = make_work(word97(["Hello"]), "http://h/old.doc")
    with pytest.raises(JobFailed, match="antiword") as failed:
        DocumentToText().run(work)
    assert "old.doc" in failed.value.message and failed.value.hint
    assert DocumentToText().limits() == [
        "antiword is not installed: .doc files cannot be converted"
    ]


@pytest.mark.parametrize("media_type", [DOCX, None])
@pytest.mark.parametrize("title", ["Annual Report 2024", None])
def test_a_docx_becomes_text_with_its_title(
    make_work: Callable[..., Work], media_type: str | None, title: str | None
) -> None:
    data = docx_bytes(["First paragraph.", "Second paragraph."], title)
    work = make_work(data, "http://h/My%20Report.docx?version=2", media_type)
    outcome = DocumentToText().run(work)
    (result,) = outcome.files
    assert result.name == "My_Report.txt" and result.rendition
    assert result.title == (title or "My Report.docx")
    text = (work.output_dir / result.name).read_text(encoding="utf-8")
    assert text == "First paragraph.\nSecond paragraph.\ncell one\tcell two\n"
    assert outcome.summary == "3 paragraphs, 8 words"


@pytest.mark.parametrize("url", ["http://h/paper.pdf", "http://h/download?id=7"])
def test_a_pdf_becomes_text_with_its_title(make_work: Callable[..., Work], url: str) -> None:
    work = make_work(tiny_pdf("Hello from a PDF", "A Tiny Paper"), url)
    outcome = DocumentToText().run(work)
    (result,) = outcome.files
    assert result.title == "A Tiny Paper" and result.media_type == "text/plain"
    assert result.name == ("paper.txt" if url.endswith(".pdf") else "download.txt")
    text = (work.output_dir / result.name).read_text(encoding="utf-8")
    assert text.strip() == "Hello from a PDF"
    assert outcome.summary == "1 page, 4 words"


@pytest.mark.parametrize(
    ("url", "data", "media_type", "message"),
    [
        ("http://h/broken.docx", b"this is not a zip file", DOCX, "as a Word (.docx) document"),
        ("http://h/broken.docx", b"PK\x03\x04 truncated", None, "as a Word (.docx) document"),
        ("http://h/broken.pdf", b"%PDF-1.4\n1 0 obj << /Type", None, "as a PDF document"),
        ("http://h/broken.pdf", b"no PDF at all", "application/pdf", "as a PDF document"),
    ],
)
def test_a_damaged_document_fails_with_the_reader_s_message(
    make_work: Callable[..., Work],
    tmp_path: Path,
    url: str,
    data: bytes,
    media_type: str | None,
    message: str,
) -> None:
    with pytest.raises(JobFailed, match=re.escape(f"could not be read {message}: ")) as failed:
        DocumentToText().run(make_work(data, url, media_type))
    assert failed.value.message.startswith(url.rsplit("/", 1)[1])
    assert str(tmp_path) not in failed.value.message  # the input is named, not the scratch file


@needs_antiword
def test_a_damaged_word_97_document_fails_with_antiword_s_message(
    make_work: Callable[..., Work],
) -> None:
    data = word97(["Hello"])[:1536] + b"\xff" * 600  # the header and directory, then rubbish
    with pytest.raises(JobFailed) as failed:
        DocumentToText().run(make_work(data, "http://h/broken.doc"))
    assert failed.value.message == "antiword failed: broken.doc is not a Word Document."


@pytest.mark.parametrize(
    ("url", "data", "looks_like"),
    [
        ("http://h/notes.txt", b"just some notes\n", "plain text"),
        ("http://h/picture.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
        ("http://h/data", bytes(range(256)), "binary data of an unknown kind"),
        ("http://h/archive.zip", b"PK\x03\x04" + bytes(40), "a damaged zip archive"),
    ],
)
def test_anything_else_is_not_a_document(
    make_work: Callable[..., Work], url: str, data: bytes, looks_like: str
) -> None:
    name = url.rsplit("/", 1)[1]
    with pytest.raises(JobFailed) as failed:
        DocumentToText().run(make_work(data, url, "application/octet-stream"))
    assert failed.value.message == (
        f"{name} is not a Word or PDF document (it looks like {looks_like})"
    )


# --- Fixity --------------------------------------------------------------------------------------

DATA = b"fixity matters\n" * 1000


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "md5"])
def test_fixity_passes_with_the_right_digest(
    make_work: Callable[..., Work], algorithm: str
) -> None:
    right = hashlib.new(algorithm, DATA).hexdigest()
    work = make_work(DATA, "http://h/data.bin", algorithm=algorithm, expected=right.upper())
    outcome = Fixity().run(work)
    assert outcome.failure is None and "matches" in (outcome.summary or "")
    report = json.loads((work.output_dir / "fixity.json").read_text())
    assert report["outcome"] == "pass" and report["algorithm"] == algorithm
    assert report["computed"] == {a: hashlib.new(a, DATA).hexdigest() for a in report["computed"]}
    assert set(report["computed"]) == {"sha256", "sha512", "md5"}
    assert event_outcome(outcome) == f"{LOC}eventOutcome/suc"
    g = graph(outcome)
    event = rdflib.URIRef(f"{RESULTS}#fixity")
    assert (event, rdflib.RDF.type, rdflib.URIRef(f"{LOC}eventType/fix")) in g
    assert (event, rdflib.URIRef(f"{LOC}eventRelatedObjectRole/sou"), None) in g
    fixity = g.value(rdflib.URIRef("http://h/data.bin"), rdflib.URIRef(f"{PREMIS}fixity"))
    assert fixity is not None and len(list(g.objects(fixity, rdflib.RDF.value))) == 1


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "md5"])
def test_fixity_fails_with_a_wrong_digest_and_keeps_its_report(
    make_work: Callable[..., Work], algorithm: str
) -> None:
    right = hashlib.new(algorithm, DATA).hexdigest()
    wrong = "0" * len(right)
    work = make_work(DATA, "http://h/data.bin", algorithm=algorithm, expected=wrong)
    outcome = Fixity().run(work)  # not raised: the report must be kept
    assert isinstance(outcome.failure, JobFailed)
    label = {"sha256": "SHA-256", "sha512": "SHA-512", "md5": "MD5"}[algorithm]
    assert outcome.failure.message == f"{label} mismatch: expected {wrong}, computed {right}"
    assert [f.name for f in outcome.files] == ["fixity.json"]
    report = json.loads((work.output_dir / "fixity.json").read_text())
    assert report["outcome"] == "fail" and report["expected"] == wrong
    assert event_outcome(outcome) == f"{LOC}eventOutcome/fai"


def test_fixity_without_an_expected_digest_records_the_digests(
    make_work: Callable[..., Work],
) -> None:
    work = make_work(DATA, "http://h/data.bin")
    outcome = Fixity().run(work)
    assert outcome.failure is None
    report = json.loads((work.output_dir / "fixity.json").read_text())
    assert report["outcome"] == "computed" and report["expected"] is None
    g = graph(outcome)
    event = rdflib.URIRef(f"{RESULTS}#fixity")
    assert (event, rdflib.RDF.type, rdflib.URIRef(f"{LOC}eventType/mes")) in g
    assert len(list(g.subjects(rdflib.RDF.type, rdflib.URIRef(f"{PREMIS}Fixity")))) == 3


@pytest.mark.parametrize(
    ("checksum_url", "body", "passes"),
    [
        ("http://h/data.bin.sha256", "{right}  data.bin\n", True),
        ("data.bin.sha256", "{right}\n", True),  # relative to the input, a bare digest
        ("http://h/SHA256SUMS", "{other}  other.bin\n{right} *data.bin\n", True),
        ("http://h/SHA256SUMS", "{right}  other.bin\n{other}  data.bin\n", False),
    ],
)
def test_fixity_reads_the_expected_digest_from_a_checksum_file(
    make_work: Callable[..., Work], checksum_url: str, body: str, passes: bool
) -> None:
    right, other = hashlib.sha256(DATA).hexdigest(), hashlib.sha256(b"other").hexdigest()
    files = {checksum_url if "://" in checksum_url else f"http://h/{checksum_url}": body}
    fetched: list[str] = []

    def fetch_small(url: str) -> bytes:
        fetched.append(url)
        return files[url].format(right=right, other=other).encode()

    work = make_work(DATA, "http://h/data.bin", fetch_small=fetch_small, checksumUrl=checksum_url)
    outcome = Fixity().run(work)
    assert fetched == list(files)
    assert (outcome.failure is None) is passes
    report = json.loads((work.output_dir / "fixity.json").read_text())
    assert report["expectedFrom"] == fetched[0]


@pytest.mark.parametrize(
    ("parameters", "fetch", "message"),
    [
        ({"algorithm": "sha1"}, True, "no digest algorithm 'sha1'"),
        ({"expected": "abc123"}, True, "is no SHA-256 digest"),
        ({"algorithm": "md5", "expected": "0" * 64}, True, "is no MD5 digest"),
        ({"expected": 42}, True, "must be a string"),
        ({"checksumUrl": "http://h/x.sha256"}, False, "cannot be fetched"),
        ({"checksumUrl": "http://h/empty.sha256"}, True, "holds no checksum"),
        ({"checksumUrl": "http://h/x.sha256", "expected": "f" * 64}, True, "differ"),
    ],
)
def test_fixity_refuses_parameters_it_cannot_use(
    make_work: Callable[..., Work], parameters: dict[str, Any], fetch: bool, message: str
) -> None:
    files = {"http://h/x.sha256": f"{'e' * 64}  data.bin".encode(), "http://h/empty.sha256": b""}
    work = make_work(DATA, "http://h/data.bin", fetch_small=files.get if fetch else None)
    work = Work(**{**work.__dict__, "parameters": parameters})
    with pytest.raises(JobFailed, match=message):
        Fixity().run(work)


# --- ExtractTechnicalMetadata --------------------------------------------------------------------


def metadata(work: Work, outcome: Outcome) -> dict[str, Any]:
    (result,) = outcome.files
    assert result.media_type == "application/ld+json"
    doc: dict[str, Any] = json.loads((work.output_dir / result.name).read_text())
    return doc


def expanded_values(doc: dict[str, Any], iri: str) -> list[Any]:
    (node,) = jsonld.expand(doc)  # an inline context only: nothing is fetched
    return [v.get("@value", v.get("@list")) for v in node.get(iri, [])]


@pytest.mark.parametrize("media_type", [None, "text/plain; charset=utf-8"])
def test_technical_metadata_of_a_text_file(
    make_work: Callable[..., Work], media_type: str | None
) -> None:
    work = make_work(b"plain words\n" * 10, "http://h/notes.txt", media_type)
    outcome = ExtractTechnicalMetadata().run(work)
    assert outcome.files[0].name == "notes.metadata.jsonld"
    doc = metadata(work, outcome)
    assert doc["id"] == "http://h/notes.txt" and doc["byteSize"] == 120
    assert doc["mediaType"] == "text/plain" and "streams" not in doc
    assert doc["note"] == "streams not described: text/plain is not audio or video"
    assert doc["sha256"] == hashlib.sha256(b"plain words\n" * 10).hexdigest()
    assert expanded_values(doc, "https://w3id.org/jobtrail/vocab#byteSize") == [120]
    g = graph(outcome)
    source = rdflib.URIRef("http://h/notes.txt")
    size = g.value(source, rdflib.URIRef("https://w3id.org/jobtrail/vocab#byteSize"))
    assert isinstance(size, rdflib.Literal) and size.toPython() == 120
    assert str(g.value(source, rdflib.URIRef("http://purl.org/dc/terms/format"))) == "text/plain"


def wav_by_wave_module(path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(8000))  # half a second of silence


def flac_by_ffmpeg(path: Path) -> None:
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not installed")
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5"]
    subprocess.run([*command, "-ar", "8000", "-ac", "1", str(path)], check=True, timeout=20)


@needs_ffprobe
@pytest.mark.parametrize(
    ("make", "name", "codec"),
    [(wav_by_wave_module, "tone.wav", "pcm_s16le"), (flac_by_ffmpeg, "tone.flac", "flac")],
)
def test_technical_metadata_of_audio_describes_its_streams(
    make_work: Callable[..., Work],
    tmp_path: Path,
    make: Callable[[Path], None],
    name: str,
    codec: str,
) -> None:
    make(tmp_path / name)
    work = make_work((tmp_path / name).read_bytes(), f"http://h/{name}")
    outcome = ExtractTechnicalMetadata().run(work)
    doc = metadata(work, outcome)
    assert doc["mediaType"].startswith("audio/") and "note" not in doc
    (stream,) = doc["streams"]
    assert stream["codecType"] == "audio" and stream["audioCodec"] == codec
    assert stream["sampleRate"] == 8000 and stream["channels"] == 1
    assert doc["duration"] == "PT0.500S"
    assert doc["ffprobe"]["streams"][0]["codec_name"] == codec
    ebucore = "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#"
    (tracks,) = expanded_values(doc, f"{ebucore}hasTrack")
    assert tracks[0][f"{ebucore}sampleRate"][0]["@value"] == 8000
    (raw,) = expanded_values(doc, "http://purl.org/dc/terms/description")
    assert raw["format"]["format_name"] == doc["ffprobe"]["format"]["format_name"]


def test_technical_metadata_without_ffprobe_says_why(
    make_work: Callable[..., Work], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav_by_wave_module(tmp_path / "tone.wav")
    work = make_work((tmp_path / "tone.wav").read_bytes(), "http://h/tone.wav")
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no ffprobe on it
    doc = metadata(work, ExtractTechnicalMetadata().run(work))
    assert doc["mediaType"] == "audio/wav" and "streams" not in doc
    assert doc["note"] == "streams not described: ffprobe is not installed on this server"
    assert jsonld.expand(doc)
    assert ExtractTechnicalMetadata().limits() == [
        "ffprobe is not installed: audio and video streams are not described"
    ]


@needs_ffprobe
def test_technical_metadata_of_unknown_bytes_tries_ffprobe(make_work: Callable[..., Work]) -> None:
    work = make_work(bytes(range(256)) * 4, "http://h/blob", "application/octet-stream")
    doc = metadata(work, ExtractTechnicalMetadata().run(work))
    assert doc["mediaType"] == "application/octet-stream"
    assert doc["note"].startswith("streams not described: ffprobe")


# --- BagValidation -------------------------------------------------------------------------------

PAYLOAD = {"a.txt": b"first payload file\n", "sub/b.bin": bytes(range(256))}


def make_bag(root: Path) -> Path:
    bag = root / "mybag"
    for name, data in PAYLOAD.items():
        (bag / name).parent.mkdir(parents=True, exist_ok=True)
        (bag / name).write_bytes(data)
    bagit.make_bag(str(bag), {"Source-Organization": "jobtrail tests"}, checksums=["sha256"])
    return bag


def pack(bag: Path, kind: str, *, nested: bool = True) -> bytes:
    """The bag as an archive, its files under `mybag/` (nested) or at the archive's top."""
    files = sorted(p for p in bag.rglob("*") if p.is_file())
    names = {
        p: (p.relative_to(bag.parent) if nested else p.relative_to(bag)).as_posix() for p in files
    }
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for path, name in names.items():
                z.write(path, name)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz" if kind == "tar.gz" else "w") as t:
            for path, name in names.items():
                t.add(path, name)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["tar.gz", "tar", "zip"])
@pytest.mark.parametrize("nested", [True, False], ids=["one-down", "top"])
def test_a_valid_bag_passes(
    make_work: Callable[..., Work], tmp_path: Path, kind: str, nested: bool
) -> None:
    archive = pack(make_bag(tmp_path / "src"), kind, nested=nested)
    work = make_work(archive, f"http://h/transfer.{kind}")
    outcome = BagValidation().run(work)
    assert outcome.failure is None
    assert [p.name for p in work.output_dir.iterdir()] == ["bag-validation.json"]  # tree removed
    report = json.loads((work.output_dir / "bag-validation.json").read_text())
    assert report["valid"] is True and report["errors"] == []
    assert report["fileCount"] == 2 and report["bagRoot"] == ("mybag" if nested else ".")
    assert report["payloadOxum"] == f"{sum(len(d) for d in PAYLOAD.values())}.2"
    assert event_outcome(outcome) == f"{LOC}eventOutcome/suc"


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
@pytest.mark.parametrize("change", ["same-size", "longer", "missing", "extra"])
def test_a_tampered_bag_fails_naming_the_file(
    make_work: Callable[..., Work], tmp_path: Path, kind: str, change: str
) -> None:
    bag = make_bag(tmp_path / "src")
    if change == "same-size":
        (bag / "data/a.txt").write_bytes(b"FIRST payload file\n")
    elif change == "longer":
        (bag / "data/a.txt").write_bytes(b"first payload file, and more\n")
    elif change == "missing":
        (bag / "data/a.txt").unlink()
    else:
        (bag / "data/smuggled.txt").write_bytes(b"not in the manifest\n")
    work = make_work(pack(bag, kind), f"http://h/transfer.{kind}")
    outcome = BagValidation().run(work)
    assert isinstance(outcome.failure, JobFailed)
    assert outcome.failure.message.startswith(f"transfer.{kind} is not a valid bag: ")
    report = json.loads((work.output_dir / "bag-validation.json").read_text())
    assert report["valid"] is False
    named = [e for e in report["errors"] if e.get("path")]
    expected_path = "data/smuggled.txt" if change == "extra" else "data/a.txt"
    assert [e["path"] for e in named] == [expected_path]
    if change in ("same-size", "longer"):
        (error,) = named
        assert error["kind"] == "ChecksumMismatch" and error["algorithm"] == "sha256"
        assert error["expected"] == hashlib.sha256(PAYLOAD["a.txt"]).hexdigest()
        assert error["found"] == hashlib.sha256((bag / "data/a.txt").read_bytes()).hexdigest()
    assert event_outcome(outcome) == f"{LOC}eventOutcome/fai"
    assert [p.name for p in work.output_dir.iterdir()] == ["bag-validation.json"]


def tar_with(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as t:
        t.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return buffer.getvalue()


def zip_with(name: str, data: bytes, mode: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        z.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 4) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.size, member.linkname = kind, size if kind == tarfile.REGTYPE else 0, "x"
    return member


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (tar_with(tar_member("../evil"), b"evil"), "unsafe path: '../evil'"),
        (tar_with(tar_member("/etc/evil"), b"evil"), "unsafe path: '/etc/evil'"),
        (zip_with("../evil", b"evil"), "unsafe path: '../evil'"),
        (zip_with("bag/../../evil", b"evil"), "unsafe path"),
        (tar_with(tar_member("bag/link", tarfile.SYMTYPE)), "holds a link member, 'bag/link'"),
        (tar_with(tar_member("bag/hard", tarfile.LNKTYPE)), "holds a link member"),
        (tar_with(tar_member("bag/dev", tarfile.CHRTYPE)), "holds a special member"),
        (zip_with("bag/link", b"/etc/passwd", 0o120777), "holds a link member"),
        (zip_with("bag/zeros.bin", bytes(2_000_000)), "unpacks to over"),
        (zip_with("bag/readme.txt", b"no bag here"), "holds no bag"),
        (b"just some text, no archive\n", "is not a zip or tar archive (it looks like plain text)"),
        (tar_with(tar_member("bag/a.txt"), b"data")[:-30], "could not be unpacked"),
    ],
)
def test_unsafe_or_unusable_archives_are_refused(
    make_work: Callable[..., Work], archive: bytes, message: str
) -> None:
    work = make_work(archive, "http://h/upload.tar.gz")
    with pytest.raises(JobFailed, match=re.escape(message)):
        BagValidation().run(work)
    assert list(work.output_dir.iterdir()) == []  # nothing unpacked is left behind
    assert not (work.output_dir.parent / "evil").exists()


def test_a_docx_whose_xml_unpacks_past_25_mb_fails_before_it_is_parsed(
    make_work: Callable[..., Work],
) -> None:
    from tests.security.test_input_limits import docx_bomb

    work = make_work(docx_bomb(800_000), "http://h/bomb.docx")
    started = time.monotonic()
    limit = r"XML parts unpack to [\d,]+ bytes, over the limit of 25,000,000"
    with pytest.raises(JobFailed, match=limit):
        DocumentToText().run(work)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_an_archive_with_too_many_members_fails_before_unpacking(
    make_work: Callable[..., Work], kind: str
) -> None:
    from tests.security.test_input_limits import tar_gz_of, zip_of

    members = {f"bag/data/{i}.txt": b"x" for i in range(11)}
    work = make_work((zip_of if kind == "zip" else tar_gz_of)(members), f"http://h/b.{kind}")
    with pytest.raises(JobFailed, match="over 10 members, the limit") as failed:
        BagValidation(max_members=10).run(work)
    assert failed.value.details["limit"] == 10
    assert list(work.output_dir.iterdir()) == []
