"""arXiv ids in the forms people paste them."""

import pytest

from storage import ArxivId, find_arxiv_ids, parse_arxiv_id


class TestParseArxivId:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2605.12345", ArxivId("2605.12345")),
            ("2605.12345v2", ArxivId("2605.12345", 2)),
            ("arXiv:2605.12345", ArxivId("2605.12345")),
            ("ARXIV: 2605.12345v3", ArxivId("2605.12345", 3)),
            ("https://arxiv.org/abs/2605.12345v3", ArxivId("2605.12345", 3)),
            ("http://export.arxiv.org/abs/2605.12345", ArxivId("2605.12345")),
            ("https://arxiv.org/pdf/2605.12345v1.pdf", ArxivId("2605.12345", 1)),
            ("https://arxiv.org/pdf/2605.12345", ArxivId("2605.12345")),
            ("https://arxiv.org/html/2605.12345v2", ArxivId("2605.12345", 2)),
            ("1301.1234", ArxivId("1301.1234")),
            ("hep-th/9901001", ArxivId("hep-th/9901001")),
            ("quant-ph/0201082v1", ArxivId("quant-ph/0201082", 1)),
            ("math.AG/0601001", ArxivId("math.AG/0601001")),
            ("https://arxiv.org/abs/astro-ph/0601001", ArxivId("astro-ph/0601001")),
            ("  2605.12345  ", ArxivId("2605.12345")),
        ],
    )
    def test_accepts_common_forms(self, text: str, expected: ArxivId) -> None:
        """Every common way of writing an id gives the same base id and version."""
        assert parse_arxiv_id(text) == expected

    @pytest.mark.parametrize(
        "text",
        ["", "abc", "0808.05394", "2613.12345", "2605.123456", "2605", "see 2605.12345", "c++"],
    )
    def test_rejects_non_ids(self, text: str) -> None:
        """Impossible ids (month 13, five digits before 2015) and prose are not ids."""
        assert parse_arxiv_id(text) is None

    def test_str_keeps_version(self) -> None:
        assert str(ArxivId("2605.12345", 2)) == "2605.12345v2"
        assert str(ArxivId("2605.12345")) == "2605.12345"


class TestFindArxivIds:
    def test_finds_ids_in_prose_in_order_without_repeats(self) -> None:
        text = (
            "tell me about 2605.26567 and https://arxiv.org/abs/2604.00001v2, also "
            "hep-th/9901001 and 2605.26567v2 again"
        )
        assert [str(i) for i in find_arxiv_ids(text)] == [
            "2605.26567",
            "2604.00001v2",
            "hep-th/9901001",
        ]

    def test_ignores_numbers_glued_to_other_text(self) -> None:
        assert find_arxiv_ids("version 12605.123456 or x2605.12345") == []
