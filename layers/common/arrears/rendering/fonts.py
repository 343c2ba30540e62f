"""The letter's fonts: DejaVu Sans (regular and bold), bundled with the package, in fpdf2 documents.

Names in Latin, Greek, Cyrillic and most other left-to-right alphabets print; what the font lacks
shows up in `missing_glyphs` of the document's fonts (channels.letter_pdf refuses such a letter).

Each font is parsed once per process (`parsed_fonts`), and each document embeds a subset that
fontTools cut once per process: the Latin, Latin-1, Latin Extended-A, punctuation and currency
glyphs (`_BASE_CODEPOINTS`), plus whatever other characters a letter uses (Greek, Cyrillic, ...),
cut once per such set (`_program`). The embedded program is byte-identical for all letters with
the same set, and a PDF maps the letter's character codes to its glyphs with a CIDToGIDMap.

Why not fpdf2's own embedding (`add_font` per document, fontTools subsetting at `output`): measured
with bench/letters.py (the two-page formal notice, fpdf2 2.8.9, fontTools 4.68; 4 December 2026, the
2-core machine shared, load ~3, so wall-clock rates vary by run):
  - fpdf2's own embedding:                    6.6-7.9 letters/s (127-151 ms a letter)
  - the same, each font parsed once:          7.7 letters/s (fontTools cuts ~40 ms a face a letter)
  - this module, one cut reused:              143-185 letters/s wall clock (5.5-7 ms a letter),
                                              13-21x fpdf2's own in the same run
  - the hand-written TrueType subsetter this module replaced (a subset per letter from the font's
    tables, in the letter layout module until then): 0.84x this module's rate, in CPU time, same
    process, interleaved (6.5 vs 5.5 ms a letter)
bench/letters.py measures this module and fpdf2's own side by side on every run ("letters: fpdf2's
own font embedding"), so the figure stays measured. Reusing a subset needs its own PDF font objects,
because fpdf2's output always subsets with fontTools: `_OutputProducer` writes them, from fpdf2
internals checked against the pinned fpdf2 2.8.9. If those cannot be imported, fpdf2's own
embedding is used (`FAST = False`), and a unit test checks both print the same text.

The price of one cut for all: the base glyph set makes a letter ~72 kB instead of ~28 kB (the
two faces' programs, ~430 glyphs and ~32 kB each compressed, hinting kept so a letter renders as
before), and the first letter of a process (or of a new glyph set) pays the cut, 60-160 ms a face.
"""

from __future__ import annotations

import copy
import io
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF

try:  # fpdf2 internals of the fast embedding (checked against fpdf2 2.8.9)
    from fpdf.fonts import SubsetMap, TTFFont
    from fpdf.output import (
        CIDSystemInfo,
        OutputProducer,
        PDFContentStream,
        PDFFont,
        _build_cmap_blocks,
        _tt_font_widths,
    )
    from fpdf.syntax import Name, PDFArray

    FAST = True
except ImportError:  # pragma: no cover - only with an incompatible fpdf2
    FAST = False

FONT_DIR = Path(__file__).resolve().parent.parent / "templates" / "fonts"
FAMILY = "DejaVu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

# What nearly every letter prints, in any of our languages: ASCII, Latin-1 and Latin Extended-A
# (names across Europe), dashes, quotes, bullets, ellipsis, the narrow no-break space babel puts in
# French amounts, and currency signs. About 430 glyphs a face, ~32 kB compressed.
_BASE_CODEPOINTS = frozenset(
    [*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x2010, 0x2028), 0x202F, *range(0x2030, 0x203B),
     *range(0x20A0, 0x20C0)]
)


def install(pdf: FPDF) -> None:
    """Make both faces of `FAMILY` available to `pdf.set_font`."""
    if not FAST:
        for style, filename in _FONT_FILES.items():
            pdf.add_font(FAMILY, style, FONT_DIR / filename)
        return
    for key, parsed in parsed_fonts().items():
        font = _BundledFont.__new__(_BundledFont)
        for slot in TTFFont.__slots__:
            if hasattr(parsed, slot):
                setattr(font, slot, getattr(parsed, slot))
        # Per-document state is fresh, so letters never share glyph codes or PDF objects. The widths
        # by character (cw) stay shared: fpdf2 only reads them (a miss stores the default width).
        font.i = len(pdf.fonts) + 1
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.desc = copy.copy(parsed.desc)
        font.subset = SubsetMap(font)
        pdf.fonts[key] = font


def output(pdf: FPDF) -> bytes:
    """The document's bytes, its bundled fonts embedded from the subsets cut once per process."""
    if FAST:
        return bytes(pdf.output(output_producer_class=_OutputProducer))
    return bytes(pdf.output())


@lru_cache(maxsize=1)
def parsed_fonts() -> dict[str, Any]:
    """fontkey -> fpdf2's parsed font (metrics, widths, the characters it has): parsed once per process."""
    scratch = FPDF()
    for style, filename in _FONT_FILES.items():
        scratch.add_font(FAMILY, style, FONT_DIR / filename)
    return {f"{FAMILY.lower()}{style}": scratch.fonts[f"{FAMILY.lower()}{style}"] for style in _FONT_FILES}


@dataclass(frozen=True)
class _Program:
    """A subset of a font as embedded: the compressed TrueType program and its glyph ids by name."""

    compressed: bytes
    length: int
    glyph_ids: dict[str, int]
    tag: str  # the six letters of the subset's PDF name ("ABCDEF+DejaVuSansBook")


@lru_cache(maxsize=64)
def _program(filename: str, extra: frozenset[int]) -> _Program:
    """The font's base glyphs and those of `extra` code points, cut by fontTools as fpdf2 cuts them."""
    font = ttLib.TTFont(FONT_DIR / filename, recalcTimestamp=False, lazy=True)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += ["FFTM", "GDEF", "GPOS", "GSUB"]  # fpdf2 drops them too; the letter does no shaping
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=_BASE_CODEPOINTS | extra)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    program = out.getvalue()
    glyph_ids = {name: gid for gid, name in enumerate(font.getGlyphOrder())}
    tag = "".join(chr(65 + b % 26) for b in zlib.crc32(program).to_bytes(4, "big") + len(program).to_bytes(2, "big"))
    return _Program(compressed=zlib.compress(program, 1), length=len(program), glyph_ids=glyph_ids, tag=tag)


def _glyph_program(font: Any) -> _Program:
    """The subset for a document's font: the base one, unless the document prints characters beyond it."""
    used = {cp for glyph, _ in font.subset.items() if glyph is not None and isinstance(glyph.unicode, tuple)
            for cp in glyph.unicode}
    filename = Path(font.ttffile).name
    return _program(filename, frozenset(used - _BASE_CODEPOINTS))


if FAST:

    class _BundledFont(TTFFont):
        """A TTFFont for one document, sharing the font parsed once per process."""

        __slots__ = ()

    class _OutputProducer(OutputProducer):
        """fpdf2's output, except that bundled fonts are embedded from `_program` instead of a fresh subset."""

        def _add_fonts(self, *args: Any, **kwargs: Any) -> dict[int, Any]:
            fonts = sorted(self.fpdf.fonts.values(), key=lambda font: font.i)
            if not all(isinstance(font, _BundledFont) for font in fonts):
                return super()._add_fonts(*args, **kwargs)
            return {font.i: self._embed(font) for font in fonts}

        def _embed(self, font: _BundledFont) -> PDFFont:
            program = _glyph_program(font)
            fontname = f"{program.tag}+{font.name}"
            type0 = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
            self._add_pdf_obj(type0, "fonts")
            cid_font = PDFFont(subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width, w=_tt_font_widths(font))
            self._add_pdf_obj(cid_font, "fonts")
            type0.descendant_fonts = PDFArray([cid_font])

            used = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
            to_unicode = [f"<{code:04X}> <{''.join(_utf16_hex(cp) for cp in glyph.unicode)}>\n"
                          for glyph, code in used if isinstance(glyph.unicode, tuple) and glyph.unicode]
            cmap = (
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
                "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                f"{_build_cmap_blocks(to_unicode, 'bfchar')}"
                "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
            )
            type0.to_unicode = self._add_stream(cmap.encode("latin-1"))

            system_info = CIDSystemInfo()
            self._add_pdf_obj(system_info, "fonts")
            cid_font.c_i_d_system_info = system_info

            descriptor = font.desc
            descriptor.font_name = Name(fontname)
            self._add_pdf_obj(descriptor, "fonts")
            cid_font.font_descriptor = descriptor

            # Character code -> glyph of the program, two bytes each, up to the highest code used.
            gids = bytearray(2 * (max((code for _, code in used), default=0) + 1))
            for glyph, code in used:
                gids[2 * code : 2 * code + 2] = program.glyph_ids.get(glyph.glyph_name, 0).to_bytes(2, "big")
            cid_font.c_i_d_to_g_i_d_map = self._add_stream(bytes(gids))  # type: ignore[assignment]

            font_file = PDFContentStream(contents=program.compressed)  # compressed once, with the cut
            font_file.filter = Name("FlateDecode")
            font_file.length1 = program.length  # type: ignore[attr-defined]
            self._add_pdf_obj(font_file, "fonts")
            descriptor.font_file2 = font_file  # type: ignore[attr-defined]

            # fpdf2 caches glyph look-ups per subset map; release them as its own output does.
            font.subset.pick.cache_clear()
            font.subset.get_glyph.cache_clear()
            return type0

        def _add_stream(self, contents: bytes) -> PDFContentStream:
            stream = PDFContentStream(contents, compress=True)
            self._add_pdf_obj(stream, "fonts")
            return stream


def _utf16_hex(codepoint: int) -> str:
    if codepoint > 0xFFFF:
        codepoint -= 0x10000
        return f"{0xD800 | codepoint >> 10:04X}{0xDC00 | codepoint & 0x3FF:04X}"
    return f"{codepoint:04X}"
