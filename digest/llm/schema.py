"""The shapes a model must answer in: pydantic models sent as the JSON schema of structured
output and used again to validate the answer.

Text cites papers only as `[[arXiv id]]`; there is no field for a name, a title or a link,
so the model has nowhere to put one. Section keys are fixed properties (not a list of keyed
sections) so the schema itself demands every section.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

DRAFT_SECTIONS = ("themes", "methods", "notable", "new", "challenges", "overview")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftItem(_Strict):
    """One bullet of a section."""

    heading: str = Field(description="A short label; no paper names or titles.")
    text: str = Field(
        description="Plain prose; a paper is referred to only by its marker [[arXiv id]]."
    )
    papers: list[str] = Field(description="arXiv ids of the papers this item discusses.")


class DraftSections(_Strict):
    """The digest's sections, in the order they are posted."""

    themes: list[DraftItem]
    methods: list[DraftItem]
    notable: list[DraftItem]
    new: list[DraftItem]
    challenges: list[DraftItem]
    overview: list[DraftItem]


class DigestDraft(_Strict):
    """A whole digest as the model writes it; the engine turns it into a `Digest`."""

    gist: str = Field(description="One paragraph for the parent message.")
    sections: DraftSections


class Note(_Strict):
    """A statement about some of a cluster's papers."""

    text: str = Field(description="Plain prose citing papers only as [[arXiv id]].")
    papers: list[str] = Field(description="arXiv ids the note is about.")


class ClusterNotes(_Strict):
    """The map step's compact notes on one cluster (or part of one) of a large week."""

    label: str = Field(description="What the cluster's papers share, in a few words.")
    summary: str = Field(description="Two to four sentences on the cluster, citing papers.")
    methods: list[Note]
    notable: list[Note] = Field(
        description="Papers worth reading first: one id each, with why and the caveat."
    )
    challenges: list[Note]


def schema_json(model: type[BaseModel]) -> str:
    """A model's JSON schema as text, for estimating the tokens it adds to a prompt (each
    transport sends its own variant of it; they differ by a few keys)."""
    return json.dumps(model.model_json_schema())
