"""The letter's fonts: one subset cut per font and glyph set, reused by every letter, each code drawing its character."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

from fontTools.ttLib import TTFont
from pypdf import PdfReader

from arrears.rendering import fonts, letter_pdf
from arrears.rendering.letter_pdf import render_demand_letter
from arrears.domain.models import Address
from tests.unit.sample_notice import make_notice


def embedded_fonts(pdf: bytes) -> dict[str, dict]:
    """Face name -> its font program, ToUnicode (code -> text) and code -> glyph id, as a viewer reads them."""
    faces = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"]["/Font"].values():
            type0 = ref.get_object()
            cid_font = type0["/DescendantFonts"][0].get_object()
            program = cid_font["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
            to_unicode = {
                int(code, 16): bytes.fromhex(text).decode("utf-16-be")
                for code, text in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", type0["/ToUnicode"].get_object().get_data().decode())
            }
            mapping = cid_font["/CIDToGIDMap"]
            if mapping == "/Identity":
                gids = {code: code for code in to_unicode}
            else:
                data = mapping.get_object().get_data()
                gids = {code: int.from_bytes(data[2 * code : 2 * code + 2], "big") for code in to_unicode}
            faces[str(cid_font["/BaseFont"]).split("+")[1]] = {"program": program, "to_unicode": to_unicode, "gids": gids}
    return faces


def test_letters_to_different_debtors_embed_the_same_subset_cut_once() -> None:
    # Given two letters that print different characters: an English one to a Berlin company, a French one to a Polish one
    english = render_demand_letter(make_notice("formal_notice", tone="formal"))
    polish = make_notice("formal_notice", tone="formal", language="fr", debtor_name="Łódzkie Zakłady Przędzalnicze Sp. z o.o.",
                         debtor_address_lines=tuple(Address(line1="ul. Piotrkowska 104", city="Łódź", postal_code="90-926",
                                                            country="PL").lines()))
    french = render_demand_letter(polish)
    first, second = embedded_fonts(english), embedded_fonts(french)
    assert set(first["DejaVuSansBook"]["to_unicode"].values()) != set(second["DejaVuSansBook"]["to_unicode"].values())

    # Then each face embeds the very same font program in both: one cut per process, not one per letter
    assert sorted(first) == sorted(second) == ["DejaVuSansBold", "DejaVuSansBook"]
    for face in first:
        assert first[face]["program"] == second[face]["program"], face


def test_each_character_code_draws_the_glyph_of_its_character() -> None:
    # Given a letter to a debtor named in Greek and Cyrillic, beyond the fonts' base glyph set
    pdf = render_demand_letter(make_notice("formal_notice", tone="formal", debtor_name="Ωμέγα Α.Ε. / ООО «Ромашка»"))

    # When each embedded face is read as a viewer reads it
    for face, font in embedded_fonts(pdf).items():
        program = TTFont(io.BytesIO(font["program"]))
        cmap = program.getBestCmap()

        # Then every character code's glyph is the program's glyph for the character the text says it is
        for code, text in font["to_unicode"].items():
            if text == "\x00":  # fpdf2 reserves code 0 for .notdef
                assert font["gids"][code] == 0
                continue
            assert len(text) == 1 and ord(text) in cmap, (face, code, text)
            assert font["gids"][code] == program.getGlyphID(cmap[ord(text)]), (face, code, text)
    bold = embedded_fonts(pdf)["DejaVuSansBold"]  # the debtor's name is set in bold
    assert {"Ω", "μ", "Р", "ш"} <= set(bold["to_unicode"].values())


def test_the_letter_layout_module_leaves_font_handling_to_the_fonts_module() -> None:
    # Given the letter layout module's source
    tree = ast.parse(Path(letter_pdf.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}

    # Then it uses neither fpdf2's internals nor fontTools nor byte-level parsing: fonts are channels.fonts' job
    assert not {name for name in imported if name.startswith(("fpdf.output", "fpdf.fonts", "fpdf.syntax", "fontTools"))}
    assert "struct" not in imported
    assert fonts.FAMILY == "DejaVu"
