"""What XML input may hold and what XML output can carry, checked in one place.

XML input: a document type declaration (`<!DOCTYPE …>`, `<!ENTITY …>`) is refused before
any parser sees it, whatever the parser: its entities would otherwise be expanded (a few
hundred bytes declaring nested entities expand to gigabytes) or loaded from files and the
network. The scan is of the raw bytes, anywhere in the document (even in a comment), so no
prolog, comment or encoding trick gets one past it.

XML output: XML 1.0 cannot carry U+0000–U+0008, U+000B, U+000C, U+000E–U+001F, U+FFFE,
U+FFFF or a lone surrogate, not even escaped. A field that ends up in XML (a UWS RUNID, a
job parameter, a SIF field) is refused with such a character (`check_field`); text that is
already kept (a message's literal) is written to XML (RDF/XML, SPARQL results XML, Atom,
HTML, UWS and SIF documents) with each replaced by U+FFFD (`carried`, `carried_utf8`); the
stored literal and the message's original bytes keep it.
"""

from __future__ import annotations

import re

from jobtrail.base.errors import InputError, Location, MalformedInput

_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
"""One character XML 1.0 cannot carry, escaped or not."""

REPLACEMENT = "\ufffd"


def refuse_dtd(data: bytes, source: str, *, what: str = "XML") -> None:
    """MalformedInput when `data` holds a document type or entity declaration."""
    found = _DTD.search(data)
    if found is None:
        return
    line = data.count(b"\n", 0, found.start()) + 1
    raise MalformedInput(
        f"a DOCTYPE is not allowed in {what} (nor an ENTITY declaration): "
        "its entities are neither expanded nor loaded",
        location=Location(source, line),
        hint="send the document without a <!DOCTYPE …> or <!ENTITY …> declaration",
        details={"limit": "no DTD"},
    )


def unsafe(text: str) -> str | None:
    """The first character XML 1.0 cannot carry in `text`, as U+XXXX, or None."""
    found = NOT_XML.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def check_field(name: str, value: str) -> str:
    """The value, or InputError (400) naming the field when XML 1.0 cannot carry it."""
    bad = unsafe(value)
    if bad is not None:
        raise InputError(
            f"the field {name!r} holds the character {bad}, which XML 1.0 cannot carry",
            hint="control characters (other than tab, line feed and carriage return), "
            "U+FFFE, U+FFFF and lone surrogates are not allowed in this field",
            details={"field": name, "character": bad},
        )
    return value


def carried(text: str) -> str:
    """`text` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return NOT_XML.sub(REPLACEMENT, text)


_NOT_XML_UTF8 = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
"""The same characters in UTF-8 (no byte below 0x20 is ever part of a longer sequence)."""


def carried_utf8(data: bytes) -> bytes:
    """A UTF-8 XML document with every character XML 1.0 cannot carry replaced by U+FFFD.

    For serialisers that write such a character raw (Oxigraph's RDF/XML and SPARQL
    results XML, ElementTree): markup never holds one, so only text is changed.
    """
    return _NOT_XML_UTF8.sub(REPLACEMENT.encode(), data)
