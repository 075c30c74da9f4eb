"""The arXiv category taxonomy (arxiv.org/category_taxonomy), written out as data: a topic's
categories are checked against it, so a typo like "cs.XX" is caught when the config is
read instead of silently matching no paper.

Archives without subject classes (hep-th, gr-qc, ...) are categories themselves; the old
physics archives that were folded into classes (astro-ph, cond-mat) are kept because
arXiv still tags older papers with them.
"""

from __future__ import annotations

_CLASSES = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS "
    "NA NE NI OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA "
    "RA RT SG SP ST",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an "
    "ed-ph flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph "
    "space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
_ARCHIVES = "astro-ph cond-mat gr-qc hep-ex hep-lat hep-ph hep-th math-ph nucl-ex nucl-th quant-ph"

CATEGORIES: frozenset[str] = frozenset(
    [f"{archive}.{cls}" for archive, classes in _CLASSES.items() for cls in classes.split()]
    + _ARCHIVES.split()
)


def is_category(name: str) -> bool:
    """Whether `name` is an arXiv category (case as arXiv writes it: "cs.CL", "hep-th")."""
    return name in CATEGORIES
