"""arXiv identifiers in every form people paste them: bare, versioned, `arXiv:`, URLs, old style."""

from __future__ import annotations

import re
from dataclasses import dataclass

# New style since 2007: YYMM.NNNN (to 2014) or YYMM.NNNNN; old style: archive[.SUBJ]/YYMMNNN.
_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})"
_VERSION = r"(?:v(?P<version>\d+))?"
_ID = rf"(?:{_NEW}|{_OLD}){_VERSION}"

_WHOLE = re.compile(
    r"^\s*(?:"
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/"
    r"|arxiv:\s*"
    r")?"
    rf"{_ID}"
    r"(?:\.pdf)?/?\s*$",
    re.IGNORECASE,
)
# In running text an id must not be glued to other digits or letters ("12605.123456").
_IN_TEXT = re.compile(rf"(?<![\w.-]){_ID}(?!\w)")


@dataclass(frozen=True, slots=True)
class ArxivId:
    """A parsed arXiv id: `base` is the corpus key, `version` what was asked for, if anything."""

    base: str
    version: int | None = None

    def __str__(self) -> str:
        return self.base if self.version is None else f"{self.base}v{self.version}"


def _from_match(match: re.Match[str]) -> ArxivId | None:
    new, old, version = match.group("new"), match.group("old"), match.group("version")
    if new:
        month = int(new[2:4])
        if not 1 <= month <= 12:
            return None
        # Five-digit numbers exist only from 1501 on; "0808.05394" is not a real id.
        if len(new.split(".")[1]) == 5 and int(new[:4]) < 1501:
            return None
        base = new
    else:
        archive, number = old.split("/")
        base = f"{archive.lower() if '.' not in archive else _old_archive(archive)}/{number}"
    return ArxivId(base, int(version) if version else None)


def _old_archive(archive: str) -> str:
    # "math.AG" keeps the subject class upper-case; the archive itself is lower-case.
    name, subject = archive.split(".")
    return f"{name.lower()}.{subject.upper()}"


def parse_arxiv_id(text: str) -> ArxivId | None:
    """The id in `text` when the whole text is one id in any common form, else None."""
    match = _WHOLE.match(text or "")
    return _from_match(match) if match else None


def find_arxiv_ids(text: str) -> list[ArxivId]:
    """Every arXiv id mentioned in free text, in order of appearance, without repeats."""
    found: list[ArxivId] = []
    for match in _IN_TEXT.finditer(text or ""):
        parsed = _from_match(match)
        if parsed and all(p.base != parsed.base for p in found):
            found.append(parsed)
    return found
