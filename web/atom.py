"""Atom (RFC 4287) documents: a feed of entries, written with the standard library.

Small and general on purpose: the message feed (/messages) uses it, and so do the
OAI-ORE 1.0 resource maps (an ORE 1.0 map in Atom is one entry: `link`s with a
`length`, `category`s, an `atom:source` naming who made the map, and elements of
other namespaces, which `extra` carries). Every string is escaped by
ElementTree; dates are written as RFC 3339 timestamps.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jobtrail.base.xmltext import carried

NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"

ET.register_namespace("", NS)


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


@dataclass(frozen=True)
class Link:
    href: str
    rel: str = "alternate"
    type: str | None = None
    title: str | None = None
    length: int | None = None
    """The size in bytes of what `href` names (RFC 4287 4.2.7.6)."""


@dataclass(frozen=True)
class Person:
    name: str
    uri: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Category:
    term: str
    scheme: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Source:
    """An entry's atom:source (RFC 4287 4.2.11): metadata of the document the entry came from."""

    authors: Sequence[Person] = ()
    generator: str | None = None
    generator_uri: str | None = None


@dataclass(frozen=True)
class Entry:
    """One atom:entry; `id`, `title` and `updated` are required by RFC 4287."""

    id: str
    title: str
    updated: datetime | str
    links: Sequence[Link] = ()
    authors: Sequence[Person] = ()
    categories: Sequence[Category] = ()
    published: datetime | str | None = None
    summary: str | None = None
    content: str | None = None
    content_type: str = "text"
    source: Source | None = None
    extra: Sequence[ET.Element] = ()


@dataclass(frozen=True)
class Feed:
    """One atom:feed. Without feed-level `authors`, every entry must name its own."""

    id: str
    title: str
    updated: datetime | str
    entries: Sequence[Entry] = ()
    links: Sequence[Link] = ()
    authors: Sequence[Person] = ()
    categories: Sequence[Category] = ()
    subtitle: str | None = None
    generator: str | None = "jobtrail"
    extra: Sequence[ET.Element] = field(default_factory=tuple)


def timestamp(value: datetime | str) -> str:
    """An RFC 3339 date-time; a naive datetime or a zoneless string is taken as UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _text(parent: ET.Element, name: str, value: str, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, _q(name), attrs)
    child.text = value
    return child


def _authors(parent: ET.Element, authors: Sequence[Person]) -> None:
    for person in authors:
        author = ET.SubElement(parent, _q("author"))
        _text(author, "name", person.name)
        if person.uri:
            _text(author, "uri", person.uri)
        if person.email:
            _text(author, "email", person.email)


def _common(
    parent: ET.Element,
    *,
    id: str,
    title: str,
    updated: datetime | str,
    links: Sequence[Link],
    authors: Sequence[Person],
    categories: Sequence[Category],
) -> None:
    _text(parent, "id", id)
    _text(parent, "title", title, type="text")
    _text(parent, "updated", timestamp(updated))
    _authors(parent, authors)
    for link in links:
        attrs = {"rel": link.rel, "href": link.href}
        if link.type:
            attrs["type"] = link.type
        if link.title:
            attrs["title"] = link.title
        if link.length is not None:
            attrs["length"] = str(link.length)
        ET.SubElement(parent, _q("link"), attrs)
    for c in categories:
        attrs = {"term": c.term}
        if c.scheme:
            attrs["scheme"] = c.scheme
        if c.label:
            attrs["label"] = c.label
        ET.SubElement(parent, _q("category"), attrs)


def entry_element(entry: Entry) -> ET.Element:
    element = ET.Element(_q("entry"))
    _common(
        element,
        id=entry.id,
        title=entry.title,
        updated=entry.updated,
        links=entry.links,
        authors=entry.authors,
        categories=entry.categories,
    )
    if entry.source is not None:
        source = ET.SubElement(element, _q("source"))
        _authors(source, entry.source.authors)
        if entry.source.generator:
            attrs = {"uri": entry.source.generator_uri} if entry.source.generator_uri else {}
            _text(source, "generator", entry.source.generator, **attrs)
    if entry.published is not None:
        _text(element, "published", timestamp(entry.published))
    if entry.summary is not None:
        _text(element, "summary", entry.summary, type="text")
    if entry.content is not None:
        _text(element, "content", entry.content, type=entry.content_type)
    element.extend(entry.extra)
    return element


def feed_element(feed: Feed) -> ET.Element:
    element = ET.Element(_q("feed"))
    _common(
        element,
        id=feed.id,
        title=feed.title,
        updated=feed.updated,
        links=feed.links,
        authors=feed.authors,
        categories=feed.categories,
    )
    if feed.subtitle:
        _text(element, "subtitle", feed.subtitle, type="text")
    if feed.generator:
        _text(element, "generator", feed.generator)
    element.extend(feed.extra)
    element.extend(entry_element(e) for e in feed.entries)
    return element


def write(document: Feed | Entry) -> bytes:
    """The document as UTF-8 XML with its declaration."""
    element = feed_element(document) if isinstance(document, Feed) else entry_element(document)
    # ElementTree writes a U+0001 raw and fails on a lone surrogate: both become U+FFFD
    text = carried(ET.tostring(element, encoding="unicode"))
    return ("<?xml version='1.0' encoding='utf-8'?>\n" + text).encode("utf-8")
