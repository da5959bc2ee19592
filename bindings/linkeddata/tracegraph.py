"""A trace drawn as SVG: one row per hop in time order, one column (lane) per producer.

Each row holds one hop's box and nothing else, and the arrows (`prov:wasInformedBy`,
from the earlier hop to the later) run in the gutters between the lanes: out of the
source box sideways along its own row, down (or up) a gutter, and into the target box
along the target's row. So an arrow never passes through a box, however many hops and
lanes there are; two arrows sharing a gutter over the same rows get different tracks.

The drawing has a `viewBox` and a width of 100%, so it scales to the page; every box
carries its full description (message, producer, time, UUID, errors) in a `<title>`
(a tooltip), its visible text is cut to fit with an ellipsis, and a legend says what
the colours mean. Every string from a message is escaped, and characters XML cannot
carry are replaced, so a producer's name or a reference holding markup stays text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from jobtrail.base.xmltext import carried
from jobtrail.queries.trace import Hop, Trace

ROW, BOX_H, GUTTER, TOP = 40, 32, 40, 84
"""A row's height, a box's height, the gutter between lanes, where the first row starts."""
MIN_BOX_W, MAX_BOX_W, MIN_WIDTH = 180, 320, 760
CHAR_W = 6.3
"""The width of a character at font-size 11 (sans-serif, on average), to cut text to fit."""
TRACKS = tuple(range(6, GUTTER - 4, 4))
"""Offsets in a gutter for the vertical runs of arrows."""


@dataclass(frozen=True)
class Kind:
    name: str
    fill: str
    stroke: str
    says: str


PLAIN = Kind("hop", "#dde8f6", "#4a5a70", "hop")
RETRIED = Kind("retried", "#ffe9b3", "#8a6d00", "retried hop")
FAILED = Kind("failed", "#fbd5d5", "#b3261e", "hop reporting errors")
CHANGE = Kind("change", "#dcefe0", "#2f6b3b", "a job's change or exchange")
KINDS = (PLAIN, RETRIED, FAILED, CHANGE)


def label(hop: Hop) -> str:
    """The lane a hop belongs to: its producer, process and environment; this service for a
    job's change records and the exchanges it had about a job."""
    named = " / ".join(p for p in (hop.producer, hop.process, hop.environment) if p)
    if named:
        return named
    if hop.change:
        return "jobtrail: job changes"
    return "jobtrail: exchanges about jobs" if hop.about else "unknown producer"


def kind(hop: Hop) -> Kind:
    if hop.errors:
        return FAILED
    if hop.retries:
        return RETRIED
    if hop.about or hop.change:
        return CHANGE
    return PLAIN


def cut(text: str, width: float) -> str:
    """`text` cut to what fits in `width` pixels, with an ellipsis if cut."""
    room = max(1, int(width / CHAR_W))
    return text if len(text) <= room else text[: room - 1] + "…"


def describe(number: int, hop: Hop) -> str:
    """Everything the box stands for, in full, for its tooltip."""
    lines = [f"#{number} {label(hop)}", f"message: {hop.iri}", f"time: {hop.time or '?'}"]
    if hop.added:
        lines.append(f"added UUID: {hop.added}")
    lines += [f"reference: {r}" for r, _ in hop.references]
    if hop.retries:
        lines.append(f"retries: {hop.retries}")
    lines += [f"error: {e}" for e in hop.errors]
    if hop.change:
        lines.append(f"change: {hop.change}" + (f" by {hop.changed_by}" if hop.changed_by else ""))
    return "\n".join(lines)


class _Gutters:
    """Which tracks of which gutter the arrows' vertical runs already take, over which rows."""

    def __init__(self) -> None:
        self.taken: dict[int, list[tuple[float, float, int]]] = {}

    def track(self, gutter: int, low: float, high: float) -> int:
        runs = self.taken.setdefault(gutter, [])
        busy = {t for a, b, t in runs if a <= high and low <= b}
        free = [t for t in TRACKS if t not in busy]
        chosen = free[0] if free else TRACKS[len(runs) % len(TRACKS)]
        runs.append((low, high, chosen))
        return chosen


def as_svg(chain: Trace, href: Callable[[int, Hop], str | None] | None = None) -> str:
    """The chain as an SVG document; `href(number, hop)`: where a box links (None: nowhere)."""
    lanes: list[str] = []
    for hop in chain.hops:
        if label(hop) not in lanes:
            lanes.append(label(hop))
    box_w = max(MIN_BOX_W, min(MAX_BOX_W, (MIN_WIDTH - GUTTER * (len(lanes) + 1)) // len(lanes)))
    width = max(MIN_WIDTH, GUTTER + len(lanes) * (box_w + GUTTER))
    height = TOP + ROW * len(chain.hops) + 8

    def column(lane: int) -> int:
        return GUTTER + lane * (box_w + GUTTER)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trace-graph" width="100%" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
        f'font-family="sans-serif" font-size="11" role="img">',
        f"<title>Trace of {escape(chain.key)}: {len(chain.hops)} hops, "
        f"{len(lanes)} producers</title>",
        "<defs><marker id='trace-arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
        "markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='#444'/>"
        "</marker></defs>",
        _legend(),
    ]
    for i, name in enumerate(lanes):  # a light band per lane, its producer at the top
        x = column(i)
        parts.append(
            f'<g class="lane"><title>{escape(name)}</title>'
            f'<rect class="lane" x="{x}" y="{TOP - 26}" width="{box_w}" '
            f'height="{height - TOP + 22}" fill="#f4f6f8"/>'
            f'<text x="{x + 6}" y="{TOP - 10}" font-weight="bold">'
            f"{escape(cut(name, box_w - 12))}</text></g>"
        )
    where: dict[str, tuple[int, int, int]] = {}  # a hop → its row, lane, number
    for n, hop in enumerate(chain.hops, 1):
        lane = lanes.index(label(hop))
        where[hop.iri] = (n - 1, lane, n)
        x, y, k = column(lane), TOP + (n - 1) * ROW, kind(hop)
        when = (hop.time or "?")[:19].replace("T", " ")
        second = (hop.added or "").removeprefix("urn:uuid:")
        if hop.retries:
            second += f" · retry {hop.retries}"
        if hop.errors:
            second += f" · {len(hop.errors)} error{'s' if len(hop.errors) > 1 else ''}"
        if hop.change:
            second = f"{hop.change} · {second}" if second else hop.change
        target = href(n, hop) if href is not None else None
        opening, closing = (f'<a href="{escape(target)}">', "</a>") if target else ("", "")
        parts.append(
            f'<g class="hop {k.name}" id="box-{n}"><title>{escape(describe(n, hop))}</title>'
            f'{opening}<rect class="hop" x="{x}" y="{y}" width="{box_w}" height="{BOX_H}" '
            f'rx="5" fill="{k.fill}" stroke="{k.stroke}"/>'
            f'<text x="{x + 6}" y="{y + 13}">{escape(cut(f"#{n} {when}", box_w - 12))}</text>'
            f'<text x="{x + 6}" y="{y + 27}" fill="#333">'
            f"{escape(cut(second or '—', box_w - 12))}</text>{closing}</g>"
        )
    gutters = _Gutters()
    for hop in chain.hops:
        row_to, lane_to, n_to = where[hop.iri]
        for earlier in hop.informed_by:
            if earlier not in where:
                continue
            row_from, lane_from, n_from = where[earlier]
            parts.append(
                _arrow(
                    gutters, column, box_w, (row_from, lane_from), (row_to, lane_to), n_from, n_to
                )
            )
    parts.append("</svg>")
    return carried("\n".join(parts))


def _arrow(
    gutters: _Gutters,
    column: Callable[[int], int],
    box_w: int,
    source: tuple[int, int],
    target: tuple[int, int],
    n_from: int,
    n_to: int,
) -> str:
    """Out of the source box along its row, along a gutter, into the target box along its row."""
    (row_a, lane_a), (row_b, lane_b) = source, target
    # out of a box low on its side, into one high: an arrow leaving never runs on one arriving
    y_a, y_b = TOP + row_a * ROW + BOX_H * 2 // 3, TOP + row_b * ROW + BOX_H // 3
    if lane_b > lane_a:  # rightwards: the gutter just left of the target's lane
        gutter, x_a, x_b = lane_b - 1, column(lane_a) + box_w, column(lane_b)
    else:  # leftwards, or the same lane: the gutter just right of the target's lane
        gutter, x_a, x_b = lane_b, column(lane_a), column(lane_b) + box_w
        if lane_b == lane_a:
            x_a = column(lane_a) + box_w
    gutter_x = column(gutter) + box_w
    track = gutters.track(gutter, min(y_a, y_b), max(y_a, y_b))
    x = gutter_x + track
    points = f"{x_a},{y_a} {x},{y_a} {x},{y_b} {x_b},{y_b}"
    return (
        f'<polyline class="informed" data-from="box-{n_from}" data-to="box-{n_to}" '
        f'points="{points}" fill="none" stroke="#444" stroke-width="1.2" '
        'marker-end="url(#trace-arrow)"/>'
    )


def _legend() -> str:
    """What the colours and the arrows mean, along the top."""
    items, x = [], 8
    for k in KINDS:
        items.append(
            f'<rect x="{x}" y="10" width="14" height="14" rx="3" fill="{k.fill}" '
            f'stroke="{k.stroke}"/><text x="{x + 19}" y="21">{escape(k.says)}</text>'
        )
        x += 26 + int(len(k.says) * CHAR_W)
    items.append(
        f'<polyline points="{x},17 {x + 26},17" stroke="#444" stroke-width="1.2" fill="none" '
        f'marker-end="url(#trace-arrow)"/>'
        f'<text x="{x + 32}" y="21">informed (earlier → later)</text>'
    )
    return f'<g class="legend"><title>Legend</title>{"".join(items)}</g>'


__all__ = ["KINDS", "as_svg", "cut", "describe", "kind", "label"]
