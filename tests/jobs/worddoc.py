"""A minimal Word 97 binary document (.doc) for tests, built from the MS-CFB and MS-DOC specs.

A .doc is a Compound File (MS-CFB): a small FAT file system inside one file.
This one holds two streams, `WordDocument` (the FIB at offset 0, then the
text) and `1Table` (the piece table, CLX, that says where each run of text
is). Both streams are padded past the 4096-byte mini-stream cutoff so that
they live in ordinary 512-byte sectors and no mini FAT is needed.
"""

from __future__ import annotations

import struct

SECTOR = 512
FREESECT = 0xFFFFFFFF
ENDOFCHAIN = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF
MINI_STREAM_CUTOFF = 4096

FIB_SIZE = 0x384  # FibBase, fibRgW, fibRgLw, 93 fc/lcb pairs (nFib 0x00C1), cswNew
FC_STSHF = 0x00A2  # fcStshf/lcbStshf: pair 1 of FibRgFcLcb97, which starts at 0x9A
FC_CLX = 0x01A2  # fcClx/lcbClx: pair 33


def word97(paragraphs: list[str], *, compressed: bool = True) -> bytes:
    """A .doc whose main text is the paragraphs, stored 8-bit (cp1252) or as UTF-16LE."""
    text = "".join(p + "\r" for p in paragraphs)  # every paragraph ends with a paragraph mark
    encoded = text.encode("cp1252") if compressed else text.encode("utf-16-le")
    word = bytearray(_fib(ccp_text=len(text), fc_clx=0, lcb_clx=0))
    text_at = len(word)
    word += encoded
    word += bytes(max(0, MINI_STREAM_CUTOFF + 1 - len(word)))

    # Pcd.fc: a byte offset, or for 8-bit text twice the offset with fCompressed (bit 30) set
    fc = (text_at * 2) | 0x40000000 if compressed else text_at
    plc_pcd = struct.pack("<II", 0, len(text)) + struct.pack("<HIH", 0, fc, 0)
    clx = b"\x02" + struct.pack("<I", len(plc_pcd)) + plc_pcd  # Pcdt: clxt 2, lcb, PlcPcd
    stsh = _stylesheet()
    table = bytearray(stsh + clx)
    table += bytes(max(0, MINI_STREAM_CUTOFF + 1 - len(table)))
    struct.pack_into("<II", word, FC_STSHF, 0, len(stsh))
    struct.pack_into("<II", word, FC_CLX, len(stsh), len(clx))
    struct.pack_into("<I", word, 0x40, len(word))  # cbMac: the meaningful bytes of the stream
    return compound_file({"WordDocument": bytes(word), "1Table": bytes(table)})


def _stylesheet() -> bytes:
    """An STSH: its STSHI header and the 15 fixed style slots left empty, so readers use defaults.

    antiword reads the STSHI whatever lcbStshf says, so a document without one makes it read
    past its buffer (and crash now and then).
    """
    slots = 15
    # STSHI: cstd, cbSTDBaseInFile, fStdStylenamesWritten, stiMaxWhenSaved,
    # istdMaxFixedWhenSaved, nVerBuiltInNamesWhenSaved, rgftcStandardChpStsh (3 font indexes)
    stshi = struct.pack("<HHHHHHHHH", slots, 0x000A, 1, slots, slots, 0, 0, 0, 0)
    return struct.pack("<H", len(stshi)) + stshi + bytes(2 * slots)  # each empty LPStd: cbStd 0


def _fib(*, ccp_text: int, fc_clx: int, lcb_clx: int) -> bytes:
    fib = bytearray(FIB_SIZE)
    # FibBase: wIdent, nFib, unused, lid (en-US), pnNext, flags, nFibBack
    # flags 0x1200: fWhichTblStm (the table stream is 1Table) and fExtChar
    struct.pack_into("<HHHHHHH", fib, 0, 0xA5EC, 0x00C1, 0, 0x0409, 0, 0x1200, 0x00BF)
    struct.pack_into("<H", fib, 0x20, 14)  # csw: 14 shorts of fibRgW follow
    struct.pack_into("<H", fib, 0x3E, 22)  # cslw: 22 longs of fibRgLw follow
    struct.pack_into("<I", fib, 0x4C, ccp_text)  # ccpText
    struct.pack_into("<H", fib, 0x98, 93)  # cbRgFcLcb: the Word 97 count
    struct.pack_into("<II", fib, FC_CLX, fc_clx, lcb_clx)
    return bytes(fib)


def compound_file(streams: dict[str, bytes]) -> bytes:
    """An MS-CFB version 3 file holding the streams in the root storage (each >= 4096 bytes)."""
    names = list(streams)
    if len(names) > 3:
        raise ValueError("one directory sector holds the root and at most three streams")
    starts: dict[str, int] = {}
    fat: list[int] = [FATSECT, ENDOFCHAIN]  # sector 0: the FAT; sector 1: the directory
    body = bytearray()
    for name in names:
        data = streams[name]
        if len(data) < MINI_STREAM_CUTOFF:
            raise ValueError(f"stream {name} is under {MINI_STREAM_CUTOFF} bytes")
        count = -(-len(data) // SECTOR)
        starts[name] = len(fat)
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [ENDOFCHAIN]
        body += data + bytes(count * SECTOR - len(data))
    if len(fat) > SECTOR // 4:
        raise ValueError("the streams do not fit the one FAT sector this writer makes")
    fat += [FREESECT] * (SECTOR // 4 - len(fat))

    header = bytearray(SECTOR)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 0x18, 0x003E, 0x0003, 0xFFFE, 9, 6)
    # directory sectors (0 in version 3), FAT sectors, first directory sector, transaction,
    # mini stream cutoff, first mini FAT sector, mini FAT sectors, first DIFAT sector, DIFAT sectors
    fields = (0, 1, 1, 0, MINI_STREAM_CUTOFF, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
    struct.pack_into("<9I", header, 0x28, *fields)
    difat = [0] + [FREESECT] * 108
    struct.pack_into("<109I", header, 0x4C, *difat)

    # The directory is a red-black tree ordered by name length, then by upper-cased name;
    # all nodes black and chained as right siblings in that order is a valid such tree.
    order = sorted(names, key=lambda n: (len(n), n.upper()))
    ids = {name: i + 1 for i, name in enumerate(order)}
    entries = [_entry("Root Entry", 5, child=ids[order[0]], start=ENDOFCHAIN, size=0)]
    for i, name in enumerate(order):
        right = ids[order[i + 1]] if i + 1 < len(order) else NOSTREAM
        entries.append(_entry(name, 2, right=right, start=starts[name], size=len(streams[name])))
    while len(entries) < SECTOR // 128:
        entries.append(_entry("", 0, start=0, size=0))
    directory = b"".join(entries)
    return bytes(header) + struct.pack(f"<{SECTOR // 4}I", *fat) + directory + bytes(body)


def _entry(
    name: str, kind: int, *, start: int, size: int, right: int = NOSTREAM, child: int = NOSTREAM
) -> bytes:
    entry = bytearray(128)
    if name:
        encoded = (name + "\0").encode("utf-16-le")
        entry[0 : len(encoded)] = encoded
        struct.pack_into("<H", entry, 0x40, len(encoded))
    # object type, colour (1: black), left sibling, right sibling, child
    struct.pack_into("<BBIII", entry, 0x42, kind, 1, NOSTREAM, right, child)
    if kind == 0:
        struct.pack_into("<III", entry, 0x44, NOSTREAM, NOSTREAM, NOSTREAM)
    struct.pack_into("<IQ", entry, 0x74, start, size)
    return bytes(entry)
