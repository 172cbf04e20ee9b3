# ruff: noqa: RUF001, RUF002, RUF003  (this module is about look-alike characters)
"""Undo mojibake in status reports: UTF-8 that was once read as Windows-125x or Mac Roman.

ftfy does the repairing; this module only sets it up for what the reports show and checks the
result. Three things ftfy alone gets wrong or leaves, each found in the shared reports:

1. Dropped bytes. Windows-1252/1254 leave 0x81 0x8D 0x8F 0x90 0x9D undefined, and the tool that
   mangled these reports dropped them, so "🔍" (F0 9F 94 8D) became "ğŸ”" with nothing after.
   ftfy's own convention for a lost byte is U+FFFD (its sloppy codecs encode it as 0x1A and
   `replace_lossy_sequences` decodes the sequence as one U+FFFD). We insert that marker where a
   sequence is visibly short, so ftfy turns the lost emoji into one U+FFFD instead of guessing
   (its `restore_byte_a0` would read the following space as 0xA0 and make "🔠" of "🔍", or "⌠"
   of "❌", eating the space), and warn that a character was lost. Two short sequences have one
   sensible reading, and there we put the byte itself back: "ï¸" is EF B8 of U+FE0F
   (VARIATION SELECTOR-16, which follows most emoji; lost 0x8F), so "âš ï¸" becomes "⚠️" rather
   than "⚠�"; and "âŒ" is ❌ (E2 9D 8C, lost 0x9D), the only emoji among its candidates (the
   others are APL symbols and control pictures) and a status mark a claim must not lose.
2. Mac Roman. "‚úÖ" is ✅ read as Mac Roman. ftfy knows the codec but its badness heuristic
   scores these sequences as clean text, so `fix_text` leaves them (and its `uncurl_quotes` even
   turns "‚" into "'"). Where our marker count says mojibake remains, we try ftfy's own plan
   for each of its single-byte encodings (`ftfy.apply_plan`: encode, decode UTF-8) and keep it
   only if it decodes strictly and leaves fewer markers.
3. What no one can repair (a lost byte in a sequence too short to tell) becomes U+FFFD, with a
   warning naming the line: no mojibake survives into claims or YAML.

Line numbers are preserved: repairs run per line, and line breaks are never rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import ftfy
import ftfy.bad_codecs  # registers the sloppy-windows-125x codecs used below
from ftfy.chardata import CHARMAP_ENCODINGS, possible_encoding

from monitor.claims.model import Repair

_CONFIG: Final = ftfy.TextFixerConfig(
    unescape_html=False,  # markdown, not HTML: "&amp;" in a report is what the team wrote
    uncurl_quotes=False,  # "‚" is a Mac Roman lead byte here, not a quote to straighten
    fix_line_breaks=False,  # line numbers are citations; we split lines ourselves
)


def _images(codec: str) -> str:
    """How the UTF-8 continuation bytes 0x80-0xBF look when read as `codec`."""
    return bytes(range(0x80, 0xC0)).decode(codec)


_WIN_CONT: Final = re.escape(
    "".join(sorted({*_images("sloppy-windows-1252"), *_images("sloppy-windows-1254")}))
)
_MAC_CONT: Final = re.escape(_images("macroman"))
# A UTF-8 lead byte as Windows-1252/1254 (Â Ã â ï ð ğ) or Mac Roman (¬ √ ‚ Ô \uf8ff) followed by
# continuation bytes read the same way: never legitimate text.
MOJIBAKE_RE: Final = re.compile(f"[ÂÃâïðğ][{_WIN_CONT}]|[¬√‚Ô\uf8ff][{_MAC_CONT}]")
_RESIDUE_RE: Final = re.compile(f"(?:[ÂÃâïðğ][{_WIN_CONT}]+|[¬√‚Ô\uf8ff][{_MAC_CONT}]+)+\ufffd*")
# Three- and four-byte sequences one or two continuation bytes short (see the module doc).
_SHORT3_RE: Final = re.compile(f"([âï])([{_WIN_CONT}])(?![{_WIN_CONT}])")
_SHORT4_RE: Final = re.compile(f"([ðğ])([{_WIN_CONT}]{{1,2}})(?![{_WIN_CONT}])")
# Short sequences with one sensible reading, and the lost byte put back (as ftfy's sloppy codecs
# spell an undefined byte): VS16 (EF B8 8F) and ❌ (E2 9D 8C).
_KNOWN_LOST: Final = MappingProxyType({"ï¸": "ï¸\x8f", "âŒ": "â\x9dŒ"})
_KNOWN_LOST_RE: Final = re.compile(f"(?:{'|'.join(_KNOWN_LOST)})(?![{_WIN_CONT}])")


@dataclass(frozen=True, slots=True)
class Repaired:
    text: str
    repairs: tuple[Repair, ...]
    warnings: tuple[str, ...]


def count_mojibake(text: str) -> int:
    """How many mojibake sequences `text` still holds; 0 for clean text."""
    return len(MOJIBAKE_RE.findall(text))


def decode(data: bytes) -> tuple[str, str | None]:
    """Bytes to text: UTF-8 (BOM allowed), else ftfy's guess. Returns the text and a warning."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        text, encoding = ftfy.guess_bytes(data)
        return text, f"the file is not UTF-8; decoded as {encoding}"


def repair_text(text: str) -> Repaired:
    """Repair every line's mojibake with ftfy; see the module docstring for what and why."""
    lines = text.split("\n")
    repairs: list[Repair] = []
    warnings: list[str] = []
    lost: list[int] = []
    for i, raw in enumerate(lines):
        line = raw.removesuffix("\r")
        if line.isascii():
            continue
        fixed, repair = _repair_line(line, i + 1)
        residue = _RESIDUE_RE.findall(fixed)
        if residue:
            fixed = _RESIDUE_RE.sub("\ufffd", fixed)
            warnings.append(
                f"line {i + 1}: could not repair {', '.join(map(repr, residue))} (bytes were lost before "
                "the file was saved); replaced with U+FFFD"
            )
        if fixed.count("\ufffd") > line.count("\ufffd"):
            lost.append(i + 1)
        if fixed != line:
            lines[i] = fixed
            if repair is not None:
                repairs.append(repair)
    if lost:
        warnings.append(
            f"line{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}: a character whose UTF-8 bytes "
            "were partly dropped before the file was saved (mojibake with lost bytes) is shown as U+FFFD"
        )
    return Repaired("\n".join(lines), tuple(repairs), tuple(warnings))


def _repair_line(line: str, number: int) -> tuple[str, Repair | None]:
    marked = _mark_lost_bytes(line)
    best, steps = _ftfy(marked)
    prefix = "mark lost bytes → " if marked != line else ""
    if count_mojibake(best):
        for codec in CHARMAP_ENCODINGS:
            if not possible_encoding(line, codec):
                continue
            try:
                candidate = ftfy.apply_plan(line, [("encode", codec), ("decode", "utf-8")])
            except UnicodeError:
                continue
            candidate, more = _ftfy(candidate)
            if count_mojibake(candidate) < count_mojibake(best):
                best, prefix = candidate, ""
                steps = [("encode", codec), ("decode", "utf-8"), *more]
    if not steps:
        return best, None
    encoding = next((name for action, name in steps if action == "encode"), None)
    text = prefix + " → ".join(f"{action} {name}" for action, name in steps)
    return best, Repair(number, text, encoding)


def _ftfy(text: str) -> tuple[str, list[tuple[str, str]]]:
    fixed, explanation = ftfy.fix_and_explain(text, _CONFIG)
    return fixed, [(step.action, step.parameter) for step in explanation or ()]


def _mark_lost_bytes(line: str) -> str:
    """Put ftfy's lost-byte marker (U+FFFD) where a sequence is visibly short; VS16 exactly."""
    if not MOJIBAKE_RE.search(line):
        return line

    def short4(m: re.Match[str]) -> str:
        return m.group(0) + "\ufffd" * (3 - len(m.group(2)))

    line = _KNOWN_LOST_RE.sub(lambda m: _KNOWN_LOST[m.group(0)], line)
    line = _SHORT3_RE.sub(lambda m: m.group(0) + "\ufffd", line)
    return _SHORT4_RE.sub(short4, line)
