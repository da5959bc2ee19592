"""The built-in job profiles: Word/PDF to text, fixity, technical metadata, BagIt validation.

PREMIS terms, from PREMIS 3 OWL (http://www.loc.gov/premis/rdf/v3/) and the Library of Congress
vocabularies (http://id.loc.gov/vocabulary/preservation/): premis:Event, a prov:Activity timed by
prov:startedAtTime/endedAtTime, typed (rdf:type, as PREMIS 3 does) eventType/fix "fixity check"
or eventType/mes "message digest calculation"; premis:outcome eventOutcome/suc "success" or /fai
"fail", premis:outcomeNote; eventRelatedObjectRole/sou "source" to the input; premis:fixity from
the input to a premis:Fixity typed cryptographicHashFunctions/md5|sha256|sha512, rdf:value digest.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

import bagit
import docx
import pypdf
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from jobtrail.base import nt
from jobtrail.base.errors import JobFailed, TimeLimitExceeded
from jobtrail.base.terms import DCTERMS, JT, PREMIS, PROV, RDF, XSD
from jobtrail.jobs.profiles import Outcome, ParameterSpec, Profile, ResultFile, Work, run_tool
from jobtrail.store import Triple
from lxml import etree
from pypdf.errors import PyPdfError

LOC = "http://id.loc.gov/vocabulary/preservation/"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OLE = "application/x-ole-storage"
CHUNK = 1 << 20
ALGORITHMS = {"sha256": ("SHA-256", 64), "sha512": ("SHA-512", 128), "md5": ("MD5", 32)}
GENERIC = {"application/octet-stream", "binary/octet-stream", "application/unknown"}
UNPACK_MAX_BYTES = 1_000_000_000
"""Default of the unpack_max_bytes setting: the most an archive a profile opens unpacks to."""
UNPACK_MAX_MEMBERS = 10_000
"""Default of the unpack_max_members setting: the most members such an archive may hold."""
DOCX_MAX_XML = 25_000_000
"""The most a .docx's XML parts may unpack to: they are parsed in memory (~20 times their size)."""
_CAP = "a bag may unpack to 20 times the size of its archive, and to unpack_max_bytes at most"
_UNPACK_HINT = "the server's unpack_max_bytes and unpack_max_members settings set the limits"
_DOCX_ERRORS = (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, etree.LxmlError)
_ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError)


def _file_name(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name)


def _stem(url: str, default: str) -> str:
    """A stem for result names from the input URL's last path segment (results.py's safe names)."""
    stem = PurePosixPath(_file_name(url)).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:100] or default


def _digests(path: Path, work: Work, algorithms: Iterable[str] = ALGORITHMS) -> dict[str, str]:
    hashes = {name: hashlib.new(name, usedforsecurity=False) for name in algorithms}
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            for h in hashes.values():
                h.update(block)
            work.remaining()
    return {name: h.hexdigest() for name, h in hashes.items()}


_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "a PDF document"),
    (bytes.fromhex("D0CF11E0A1B11AE1"), OLE, "an OLE2 compound file (Office 97-2003)"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "a PNG image"),
    (b"\xff\xd8\xff", "image/jpeg", "a JPEG image"),
    (b"\x1f\x8b", "application/gzip", "gzip-compressed data"),
    (b"ID3", "audio/mpeg", "an MP3 audio file"),
    (b"fLaC", "audio/flac", "a FLAC audio file"),
    (b"OggS", "application/ogg", "an Ogg media file"),
    (b"\x1a\x45\xdf\xa3", "video/x-matroska", "a Matroska or WebM media file"),
)


def sniff(path: Path) -> tuple[str, str]:
    """A file's media type and a description of it, from its first bytes."""
    with path.open("rb") as f:
        head = f.read(4096)
    if not head:
        return "application/octet-stream", "an empty file"
    for magic, media_type, what in _MAGIC:
        if head.startswith(magic):
            return media_type, what
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                if "word/document.xml" in z.namelist():
                    return DOCX, "a Word document (.docx)"
        except zipfile.BadZipFile:
            return "application/zip", "a damaged zip archive"
        return "application/zip", "a zip archive"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", "a WAV audio file"
    if head[4:8] == b"ftyp":
        return "video/mp4", "an MP4 or QuickTime media file"
    if b"\0" not in head:
        text = head.decode("utf-8", "replace")
        if "\ufffd" not in text[:-3]:  # the last character may be cut in two
            return "text/plain", "plain text"
    return "application/octet-stream", "binary data of an unknown kind"


def _media_type(work: Work) -> str:
    """The declared media type unless it says nothing, else the bytes', else the extension's."""
    declared = (work.media_type or "").split(";")[0].strip().lower()
    if declared and declared not in GENERIC:
        return declared
    sniffed = sniff(work.input_path)[0]
    if sniffed not in GENERIC | {"text/plain", "application/zip", OLE}:
        return sniffed
    return mimetypes.guess_type(_file_name(work.input_url))[0] or sniffed


def _text_parameter(work: Work, name: str) -> str | None:
    value = work.parameters.get(name)
    if value is not None and not isinstance(value, str):
        raise JobFailed(f"the parameter {name} must be a string, not {type(value).__name__}")
    return (value or "").strip() or None


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _named(message: str, work: Work, name: str) -> str:
    """A library's or program's message with the input's name for the scratch file's path."""
    return message.replace(str(work.input_path), name)


def _write_json(work: Work, name: str, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    (work.output_dir / name).write_text(text, encoding="utf-8")


def premis_event(
    work: Work, *, checked: bool, success: bool, note: str, started: datetime, **fixity: str
) -> list[Triple]:
    """The PREMIS event `{results}#fixity` about the input; fixity: digests by algorithm."""
    e = nt.iri(f"{work.results_iri}#fixity")
    out: list[Triple] = [
        (e, nt.A, nt.iri(f"{PREMIS}Event")),
        (e, nt.A, nt.iri(f"{LOC}eventType/{'fix' if checked else 'mes'}")),
        (e, nt.iri(f"{PREMIS}outcome"), nt.iri(f"{LOC}eventOutcome/{'suc' if success else 'fai'}")),
        (e, nt.iri(f"{PREMIS}outcomeNote"), nt.lit(note)),
        (e, nt.iri(f"{PROV}startedAtTime"), nt.datetime_lit(started)),
        (e, nt.iri(f"{PROV}endedAtTime"), nt.now()),
    ]
    source = nt.checked_iri(work.input_url)
    if source is not None:
        out.append((e, nt.iri(f"{LOC}eventRelatedObjectRole/sou"), source))
    for algorithm, digest in fixity.items():
        f = nt.iri(f"{work.results_iri}#fixity-{algorithm}")
        out += [
            (f, nt.A, nt.iri(f"{PREMIS}Fixity")),
            (f, nt.A, nt.iri(f"{LOC}cryptographicHashFunctions/{algorithm}")),
            (f, nt.iri(f"{RDF}value"), nt.lit(digest)),
        ]
        if source is not None:
            out.append((source, nt.iri(f"{PREMIS}fixity"), f))
    return out


class DocumentToText(Profile):
    name = "DocumentToText"
    title = "Document to text"
    description = "The text of a Word document (.doc, .docx) or a PDF, as UTF-8 plain text."
    kinds = {"application/msword": "doc", OLE: "doc", DOCX: "docx", "application/pdf": "pdf"}
    extensions = {".doc": "doc", ".dot": "doc", ".docx": "docx", ".pdf": "pdf"}

    def __init__(
        self, max_bytes: int = UNPACK_MAX_BYTES, max_members: int = UNPACK_MAX_MEMBERS
    ) -> None:
        self.max_bytes = max_bytes
        self.max_members = max_members

    def limits(self) -> list[str]:
        missing = shutil.which("antiword") is None
        return ["antiword is not installed: .doc files cannot be converted"] if missing else []

    def run(self, work: Work) -> Outcome:
        name = _file_name(work.input_url) or "document"
        readers = {"doc": self._doc, "docx": self._docx, "pdf": self._pdf}
        text, title, count = readers[self._kind(work, name)](work, name)  # count: pages, paragraphs
        out = f"{_stem(work.input_url, 'document')}.txt"
        (work.output_dir / out).write_text(text, encoding="utf-8")
        words = _count(len(text.split()), "word")
        return Outcome(
            files=[ResultFile(out, "text/plain", title=title or name, rendition=True)],
            summary=f"{count}, {words}" if count else words,
        )

    def _kind(self, work: Work, name: str) -> str:
        """By the declared media type, else by the bytes, else by the name's extension."""
        declared = (work.media_type or "").split(";")[0].strip().lower()
        sniffed, looks_like = sniff(work.input_path)
        extension = PurePosixPath(name).suffix.lower()
        kind = self.kinds.get(declared) or self.kinds.get(sniffed) or self.extensions.get(extension)
        if kind is None:
            raise JobFailed(f"{name} is not a Word or PDF document (it looks like {looks_like})")
        return kind

    def _doc(self, work: Work, name: str) -> tuple[str, None, None]:
        if shutil.which("antiword") is None:
            raise JobFailed(
                f"{name} is a Word 97-2003 document, and antiword, which reads those, "
                "is not installed on this server",
                hint="install antiword, or send the document as .docx or PDF",
            )
        # -w 0: a paragraph on one line; -m UTF-8.txt: UTF-8 whatever the locale
        command = ["antiword", "-w", "0", "-m", "UTF-8.txt", str(work.input_path)]
        try:
            out = run_tool(command, work, what="antiword")
        except TimeLimitExceeded:
            raise
        except JobFailed as e:  # antiword's message names the scratch file: name the input
            raise JobFailed(_named(e.message, work, name)) from e
        return out.decode("utf-8", "replace").lstrip("\n"), None, None

    def _docx(self, work: Work, name: str) -> tuple[str, str | None, str]:
        try:
            # python-docx reads every part into memory and parses its XML: the sizes the zip
            # declares (zipfile never reads past them) are checked first
            _zip_within(
                work.input_path,
                name,
                max_bytes=self.max_bytes,
                max_members=self.max_members,
                max_xml=min(DOCX_MAX_XML, self.max_bytes),
            )
            document = docx.Document(str(work.input_path))
            lines: list[str] = []
            for block in document.iter_inner_content():
                if isinstance(block, Table):
                    lines += ["\t".join(cell.text for cell in row.cells) for row in block.rows]
                else:
                    lines.append(block.text)
            title = document.core_properties.title.strip()
        except _DOCX_ERRORS as e:
            message = f"{name} could not be read as a Word (.docx) document: {e}"
            raise JobFailed(_named(message, work, name)) from e
        return "\n".join(lines) + "\n", title or None, _count(len(lines), "paragraph")

    def _pdf(self, work: Work, name: str) -> tuple[str, str | None, str]:
        try:
            reader = pypdf.PdfReader(work.input_path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise JobFailed(f"{name} is an encrypted PDF that needs a password")
            pages: list[str] = []
            for page in reader.pages:
                work.remaining()
                pages.append(page.extract_text() or "")
            title = (reader.metadata.title if reader.metadata else None) or ""
        except (PyPdfError, ValueError, KeyError) as e:
            raise JobFailed(f"{name} could not be read as a PDF document: {e}") from e
        text = "\n\f".join(p.rstrip("\n") for p in pages) + "\n"  # a form feed between pages
        return text, title.strip() or None, _count(len(pages), "page")


class Fixity(Profile):
    name = "Fixity"
    title = "Fixity check"
    description = "SHA-256, SHA-512 and MD5 of the input, checked against an expected digest."
    parameters = (
        ParameterSpec("algorithm", "the digest to check: sha256 (the default), sha512 or md5"),
        ParameterSpec("expected", "the expected digest, in hex"),
        ParameterSpec("checksumUrl", "URL of a checksum file (`hexdigest  filename` lines)"),
    )

    def run(self, work: Work) -> Outcome:
        started = datetime.now(UTC)
        name = _file_name(work.input_url) or "the input"
        algorithm = (_text_parameter(work, "algorithm") or "").lower().replace("-", "")
        if algorithm and algorithm not in ALGORITHMS:
            raise JobFailed(f"no digest algorithm {algorithm!r} here: sha256, sha512 or md5")
        expected, source = self._expected(work, name)
        if not algorithm:  # the digest's length tells, when no algorithm is named
            by_length = {length: alg for alg, (_, length) in ALGORITHMS.items()}
            algorithm = by_length.get(len(expected or ""), "sha256")
        label, length = ALGORITHMS[algorithm]
        if expected is not None and not re.fullmatch(f"[0-9a-f]{{{length}}}", expected):
            raise JobFailed(f"{expected!r} from {source} is no {label} digest ({length} hex)")
        computed = _digests(work.input_path, work)
        digest = computed[algorithm]
        if expected is None:
            outcome, note = "computed", f"{label} computed: {digest}"
        elif expected == digest:
            outcome, note = "pass", f"{label} matches the digest from {source}"
        else:
            outcome, note = "fail", f"{label} mismatch: expected {expected}, computed {digest}"
        report: dict[str, Any] = {"input": work.input_url, "algorithm": algorithm}
        report |= {"expected": expected, "expectedFrom": source, "computed": computed}
        _write_json(
            work, "fixity.json", report | {"outcome": outcome, "checkedAt": started.isoformat()}
        )
        failed, checked = outcome == "fail", expected is not None
        event_note = f"fixity check failed: {note}" if failed else note
        triples = premis_event(
            work, checked=checked, success=not failed, note=event_note, started=started, **computed
        )
        return Outcome(
            files=[ResultFile("fixity.json", "application/json", title=f"Fixity of {name}")],
            triples=triples,
            summary=note,
            failure=JobFailed(note) if failed else None,
        )

    def _expected(self, work: Work, name: str) -> tuple[str | None, str | None]:
        """The expected digest (lower-case hex) and where it came from."""
        given = _text_parameter(work, "expected")
        url = _text_parameter(work, "checksumUrl")
        if url is None:
            return (given.lower(), "the expected parameter") if given else (None, None)
        url = urljoin(work.input_url, url)
        if work.fetch_small is None:
            raise JobFailed(f"checksumUrl {url} cannot be fetched: this job may fetch nothing more")
        listed = _digest_from_checksum_file(work.fetch_small(url), url, name)
        if given is not None and given.lower() != listed:
            raise JobFailed(
                f"the expected digest {given} and the one in {url}, {listed}, differ",
                hint="give one of expected and checksumUrl",
            )
        return listed, url


def _digest_from_checksum_file(body: bytes, url: str, file_name: str) -> str:
    """The digest for file_name from `sha256sum`-style lines (`hexdigest  name`, or just hex)."""
    found: list[tuple[str, str]] = []
    for line in body.decode("utf-8", "replace").splitlines():
        if m := re.fullmatch(r"\s*([0-9A-Fa-f]{32,128})(?:\s+\*?(.*?))?\s*", line):
            found.append((m[1].lower(), PurePosixPath(m[2] or "").name))
    if not found:
        raise JobFailed(f"{url} holds no checksum (lines of `hexdigest  filename` expected)")
    if len(found) == 1:
        return found[0][0]
    for digest, listed in found:
        if listed == file_name:
            return digest
    raise JobFailed(f"{url} lists {len(found)} checksums and none for {file_name}")


# An inline context, so that reading the document never reaches the network; EBUCore for
# the audio and video facts, and ffprobe's own JSON kept whole as an rdf:JSON literal.
_CONTEXT: dict[str, Any] = json.loads(f"""{{
  "@version": 1.1, "id": "@id", "type": "@type",
  "dcterms": "{DCTERMS}", "jt": "{JT}", "premis": "{PREMIS}", "rdf": "{RDF}", "xsd": "{XSD}",
  "ebucore": "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#",
  "hash": "{LOC}cryptographicHashFunctions/", "note": "http://www.w3.org/2000/01/rdf-schema#comment",
  "name": "premis:originalName", "mediaType": "dcterms:format", "sha256": "jt:sha256",
  "byteSize": {{"@id": "jt:byteSize", "@type": "xsd:integer"}},
  "fixity": {{"@id": "premis:fixity"}}, "digest": "rdf:value",
  "streams": {{"@id": "ebucore:hasTrack", "@container": "@list"}}, "codecType": "dcterms:type",
  "audioCodec": "ebucore:hasAudioCodec", "videoCodec": "ebucore:hasVideoCodec",
  "codec": "ebucore:codecName", "duration": {{"@id": "ebucore:duration", "@type": "xsd:duration"}},
  "sampleRate": {{"@id": "ebucore:sampleRate", "@type": "xsd:integer"}},
  "channels": {{"@id": "ebucore:audioChannelNumber", "@type": "xsd:integer"}},
  "width": {{"@id": "ebucore:width", "@type": "xsd:integer"}},
  "height": {{"@id": "ebucore:height", "@type": "xsd:integer"}},
  "ffprobe": {{"@id": "dcterms:description", "@type": "@json"}}
}}""")
_PROBED = GENERIC | {"application/ogg", "application/mxf"}  # audio or video, or may be
_FFPROBE = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]


class ExtractTechnicalMetadata(Profile):
    name = "ExtractTechnicalMetadata"
    title = "Technical metadata"
    description = (
        "Size, media type and digests of the input, and its streams (ffprobe), as JSON-LD."
    )

    def limits(self) -> list[str]:
        missing = shutil.which("ffprobe") is None
        return ["ffprobe is not installed: audio and video streams are not described"] * missing

    def run(self, work: Work) -> Outcome:
        size = work.input_path.stat().st_size
        media_type = _media_type(work)
        digests = _digests(work.input_path, work, ("sha256", "md5"))
        doc: dict[str, Any] = {
            "@context": _CONTEXT,
            "id": work.input_url,
            "type": "premis:File",
            "name": _file_name(work.input_url) or None,
            "byteSize": size,
            "mediaType": media_type,
            "sha256": digests["sha256"],
            "fixity": [
                {"type": ["premis:Fixity", f"hash:{alg}"], "digest": value}
                for alg, value in digests.items()
            ],
        }
        probe, reason = self._probe(work, media_type)
        if probe is None:
            doc["note"] = f"streams not described: {reason}"
        else:
            doc |= _describe(probe) | {"ffprobe": probe}
        doc = {k: v for k, v in doc.items() if v is not None}
        out = f"{_stem(work.input_url, 'input')}.metadata.jsonld"
        _write_json(work, out, doc)
        source = nt.checked_iri(work.input_url)
        facts = {"byteSize": nt.integer(size), "sha256": nt.lit(digests["sha256"])}
        triples: list[Triple] = [(source, nt.jt(k), o) for k, o in facts.items()] if source else []
        triples += [(source, nt.iri(f"{DCTERMS}format"), nt.lit(media_type))] if source else []
        streams = len(doc.get("streams", []))
        return Outcome(
            files=[ResultFile(out, "application/ld+json", title="Technical metadata")],
            triples=triples,
            summary=f"{size:,} bytes, {media_type}"
            + (f", {_count(streams, 'stream')}" if streams else ""),
        )

    def _probe(self, work: Work, media_type: str) -> tuple[dict[str, Any] | None, str]:
        """ffprobe's description of the input, or None and why there is none."""
        if not media_type.startswith(("audio/", "video/")) and media_type not in _PROBED:
            return None, f"{media_type} is not audio or video"
        if shutil.which("ffprobe") is None:
            return None, "ffprobe is not installed on this server"
        try:
            out = run_tool([*_FFPROBE, str(work.input_path)], work, what="ffprobe")
        except TimeLimitExceeded:
            raise
        except JobFailed as e:  # not media after all, or damaged: the description says which
            return None, f"ffprobe could not read it: {e.message}"
        try:
            probe: dict[str, Any] = json.loads(out)
        except json.JSONDecodeError as e:
            raise JobFailed(f"ffprobe wrote something that is not JSON: {e}") from e
        if not probe.get("streams"):
            return None, "ffprobe found no streams in it"
        return probe, ""


def _describe(probe: dict[str, Any]) -> dict[str, Any]:
    """The main facts of the format and of each stream, in the context's EBUCore terms."""
    streams = []
    for s in probe.get("streams", []):
        kind = s.get("codec_type")
        stream = {
            "codecType": kind,
            {"audio": "audioCodec", "video": "videoCodec"}.get(kind, "codec"): s.get("codec_name"),
            "sampleRate": int(s["sample_rate"]) if str(s.get("sample_rate")).isdigit() else None,
            "channels": s.get("channels"),
            "width": s.get("width"),
            "height": s.get("height"),
            "duration": _duration(s.get("duration")),
        }
        streams.append({k: v for k, v in stream.items() if v is not None})
    return {"duration": _duration(probe.get("format", {}).get("duration")), "streams": streams}


def _duration(seconds: Any) -> str | None:
    """ffprobe's seconds ("12.500000", or "N/A") as an xsd:duration."""
    ok = isinstance(seconds, str) and re.fullmatch(r"\d+(\.\d+)?", seconds)
    return f"PT{float(seconds):.3f}S" if ok else None


class BagValidation(Profile):
    name = "BagValidation"
    title = "BagIt validation"
    description = "Validates a BagIt bag sent as .zip, .tar or .tar.gz: files, manifests, oxum."

    def __init__(
        self, max_bytes: int = UNPACK_MAX_BYTES, max_members: int = UNPACK_MAX_MEMBERS
    ) -> None:
        self.max_bytes = max_bytes
        self.max_members = max_members

    def run(self, work: Work) -> Outcome:
        started = datetime.now(UTC)
        name = _file_name(work.input_url) or "the input"
        scratch = Path(tempfile.mkdtemp(prefix=".bag-", dir=work.output_dir))
        try:
            _extract(work.input_path, scratch, work, name, self.max_bytes, self.max_members)
            root = _bag_root(scratch, name)
            report: dict[str, Any] = {"input": work.input_url}
            report["bagRoot"] = root.relative_to(scratch).as_posix()
            report |= self._validate(root, work) | {"checkedAt": started.isoformat()}
        finally:
            shutil.rmtree(scratch)
        errors: list[dict[str, Any]] = report["errors"]
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            note = f"{name} is not a valid bag: {errors[0]['message']}{more}"
        else:
            note = f"{name} is a valid bag of {report['fileCount']:,} payload files"
        _write_json(work, "bag-validation.json", report)
        triples = premis_event(work, checked=True, success=not errors, note=note, started=started)
        return Outcome(
            files=[ResultFile("bag-validation.json", "application/json", title=f"Bag {name}")],
            triples=triples,
            summary=note,
            failure=JobFailed(note, details={"bagErrors": errors[:50]}) if errors else None,
        )

    def _validate(self, root: Path, work: Work) -> dict[str, Any]:
        try:
            bag = bagit.Bag(str(root))
        except bagit.BagError as e:
            return {"valid": False, "fileCount": 0, "errors": [{"message": str(e)}]}
        errors: list[dict[str, Any]] = []
        try:
            bag.validate(processes=1)
        except bagit.BagValidationError as e:
            errors = [_bag_error(d) for d in e.details] or [{"message": e.message}]
            if not e.details:
                # The quick Payload-Oxum check fails before any file is named: bagit's own
                # completeness and checksum checks (private, as validate() stops first) name them.
                for check in (bag._validate_completeness, partial(bag._validate_entries, 1)):
                    try:
                        check()
                    except bagit.BagValidationError as detailed:
                        errors += [_bag_error(d) for d in detailed.details]
                        break  # as in validate(): checksums only once the files are all there
        except bagit.BagError as e:
            errors = [{"message": str(e)}]
        work.remaining()
        return {
            "valid": not errors,
            "bagitVersion": ".".join(map(str, bag.version_info)),
            "algorithms": list(bag.algorithms),
            "payloadOxum": bag.info.get("Payload-Oxum"),
            "fileCount": sum(1 for _ in bag.payload_files()),
            "errors": errors,
        }


def _bag_error(detail: Any) -> dict[str, Any]:
    error = {"message": str(detail), "kind": type(detail).__name__}
    for key in ("path", "algorithm", "expected", "found"):
        if getattr(detail, key, None) is not None:
            error[key] = str(getattr(detail, key))
    return error


Member = tuple[str, str, Callable[[], IO[bytes] | None]]


def _members(archive: Path, zipped: bool) -> Iterator[Member]:
    """Each member's name, kind (dir, file, link, special, encrypted) and opener."""
    if zipped:
        with zipfile.ZipFile(archive) as z:
            for i in z.infolist():
                mode = i.external_attr >> 16  # Unix mode bits, when the zip was made on Unix
                regular = stat.S_IFMT(mode) in (0, stat.S_IFREG, stat.S_IFDIR)  # 0: type not said
                kind = "link" if stat.S_ISLNK(mode) else "special" if not regular else "file"
                kind = "dir" if i.is_dir() else "encrypted" if i.flag_bits & 0x1 else kind
                yield i.filename, kind, partial(z.open, i)
    else:
        with tarfile.open(archive, "r:*") as tar:
            for m in tar:
                kind = "link" if m.issym() or m.islnk() else "file" if m.isfile() else "special"
                yield m.name, "dir" if m.isdir() else kind, partial(tar.extractfile, m)


def _zip_within(
    archive: Path, name: str, *, max_bytes: int, max_members: int, max_xml: int | None = None
) -> None:
    """JobFailed, naming the limit, when a zip holds too many members or declares that they
    unpack to too much; before anything is unpacked. zipfile reads no member past its declared
    size (a lie is a CRC error), so the declared sizes bound what is read."""
    with zipfile.ZipFile(archive) as z:
        members = z.infolist()
    _member_count(len(members), name, max_members)
    total = sum(i.file_size for i in members)
    if total > max_bytes:
        raise JobFailed(
            f"{name} unpacks to over {max_bytes:,} bytes, the limit (unpack_max_bytes): "
            f"its members declare {total:,}",
            hint=_UNPACK_HINT,
            details={"limit": max_bytes, "setting": "unpack_max_bytes"},
        )
    xml = sum(i.file_size for i in members if i.filename.endswith((".xml", ".rels")))
    if max_xml is not None and xml > max_xml:
        raise JobFailed(
            f"{name}'s XML parts unpack to {xml:,} bytes, over the limit of {max_xml:,} "
            "for a document parsed in memory",
            hint="a .docx's XML may unpack to 25 MB (or unpack_max_bytes, if smaller)",
            details={"limit": max_xml},
        )


def _member_count(count: int, name: str, max_members: int) -> None:
    if count > max_members:
        raise JobFailed(
            f"{name} holds over {max_members:,} members, the limit (unpack_max_members)",
            hint=_UNPACK_HINT,
            details={"limit": max_members, "setting": "unpack_max_members"},
        )


def _extract(
    archive: Path,
    dest: Path,
    work: Work,
    name: str,
    max_bytes: int = UNPACK_MAX_BYTES,
    max_members: int = UNPACK_MAX_MEMBERS,
) -> None:
    """Unpack a zip or tar archive: only files and directories, all inside dest, size capped.

    A zip's declared sizes and member count are checked before anything is unpacked; a
    tar's (its headers are read one member at a time) before each member is; every member
    is copied with the room left, so nothing past the cap is ever written.
    """
    cap = min(20 * archive.stat().st_size, max_bytes)
    with archive.open("rb") as f:
        zipped = f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    total = 0
    count = 0
    try:
        if not zipped and not tarfile.is_tarfile(archive):
            looks_like = sniff(archive)[1]
            raise JobFailed(f"{name} is not a zip or tar archive (it looks like {looks_like})")
        if zipped:
            _zip_within(archive, name, max_bytes=cap, max_members=max_members)
        for member, kind, opener in _members(archive, zipped):
            work.remaining()
            count += 1
            _member_count(count, name, max_members)
            path = PurePosixPath(member.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or re.match(r"[A-Za-z]:", member):
                raise JobFailed(f"{name} holds a member with an unsafe path: {member!r}")
            target = dest.joinpath(*[p for p in path.parts if p not in ("", ".")])
            if kind == "dir":
                target.mkdir(parents=True, exist_ok=True)
                continue
            if kind != "file":
                raise JobFailed(f"{name} holds a {kind} member, {member!r}: a bag holds files")
            source = opener()
            if source is None:
                raise JobFailed(f"{name}: the member {member!r} cannot be read")
            with source:
                written = _copy(source, target, cap - total)
            if written is None:
                raise JobFailed(
                    f"{name} unpacks to over {cap:,} bytes, the limit, at {member!r}",
                    hint=_CAP,
                    details={"limit": cap, "setting": "unpack_max_bytes"},
                )
            total += written
    except _ARCHIVE_ERRORS as e:
        raise JobFailed(f"{name} could not be unpacked: {e}") from e


def _copy(source: IO[bytes], target: Path, room: int) -> int | None:
    """Copy a member, stopping once it is over room bytes; the bytes written, or None if over."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("wb") as out:
        while block := source.read(CHUNK):
            written += len(block)
            if written > room:
                return None
            out.write(block)
    return written


def _bag_root(top: Path, name: str) -> Path:
    """The directory holding bagit.txt: the archive's top, or one directory down."""
    found = sorted(d for d in top.iterdir() if d.is_dir() and (d / "bagit.txt").is_file())
    found = [top] if (top / "bagit.txt").is_file() else found
    if len(found) == 1:
        return found[0]
    if not found:
        raise JobFailed(f"{name} holds no bag: no bagit.txt at its top or one directory down")
    raise JobFailed(f"{name} holds {len(found)} bags, not one: {', '.join(d.name for d in found)}")


def builtin_profiles(
    unpack_max_bytes: int = UNPACK_MAX_BYTES, unpack_max_members: int = UNPACK_MAX_MEMBERS
) -> dict[str, Profile]:
    limits = (unpack_max_bytes, unpack_max_members)
    profiles = (
        DocumentToText(*limits),
        Fixity(),
        ExtractTechnicalMetadata(),
        BagValidation(*limits),
    )
    return {p.name: p for p in profiles}
