"""The words the built-in translator knows: tables only, no logic beyond word forms.

Field names differ between databases, so meanings are kept as groups of words: a question's
word links to a field when the field's own name falls in the same group (``cost`` and
``priced`` reach a field called ``price``; ``sales`` one called ``amount``). Superlatives
name a group and a direction; comparisons an operator (and sometimes a group: ``cheaper than``
is about a price).
"""

from __future__ import annotations

__all__ = [
    "AGGREGATES",
    "COMPARATORS",
    "GROUPS",
    "MONEY",
    "NEGATIONS",
    "NUMBER_WORDS",
    "SUPERLATIVES",
    "forms",
    "singular",
]

GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(words.split())
    for words in (
        "price prices cost costs costing priced pricing expensive cheap cheaper cheapest "
        "pricier priciest dollars dollar euros euro money",
        "amount amounts value values sales revenue spent spend worth sum",
        "rating ratings rated rate score scores stars",
        "stock stocks inventory available",
        "quantity quantities qty pieces",
        "year years published date dates newest latest recent oldest earliest when",
        "author authors writer writers wrote write written",
        "customer customers client clients buyer buyers placed bought",
        "city cities town towns",
        "category categories kind kinds type types section sections",
        "name names called",
        "title titles headline headlines",
        "status state states",
        "age ages old",
        "country countries nation",
    )
)

# Field names that hold money, tried first for "orders over 200" (no field named).
MONEY = ("price", "amount", "total", "cost", "value", "revenue", "sales")
# word -> (aggregate function); "total" and "sum" also name amount-like fields above.
AGGREGATES: dict[str, str] = {
    "average": "avg",
    "mean": "avg",
    "avg": "avg",
    "total": "sum",
    "sum": "sum",
    "combined": "sum",
    "highest": "max",
    "maximum": "max",
    "max": "max",
    "largest": "max",
    "biggest": "max",
    "greatest": "max",
    "lowest": "min",
    "minimum": "min",
    "min": "min",
    "smallest": "min",
}

# Superlative phrases (as word tuples) -> (meaning group word or "" for the main number,
# descending?). Longer phrases are tried first.
SUPERLATIVES: dict[tuple[str, ...], tuple[str, bool]] = {
    ("most", "expensive"): ("price", True),
    ("least", "expensive"): ("price", False),
    ("priciest",): ("price", True),
    ("costliest",): ("price", True),
    ("cheapest",): ("price", False),
    ("best", "rated"): ("rating", True),
    ("highest", "rated"): ("rating", True),
    ("top", "rated"): ("rating", True),
    ("worst", "rated"): ("rating", False),
    ("lowest", "rated"): ("rating", False),
    ("best",): ("rating", True),
    ("worst",): ("rating", False),
    ("most", "recent"): ("year", True),
    ("newest",): ("year", True),
    ("latest",): ("year", True),
    ("oldest",): ("year", False),
    ("earliest",): ("year", False),
    ("largest",): ("", True),
    ("biggest",): ("", True),
    ("highest",): ("", True),
    ("greatest",): ("", True),
    ("smallest",): ("", False),
    ("lowest",): ("", False),
}

# Comparison phrases -> (operator, meaning group word or ""). Longer phrases first.
COMPARATORS: dict[tuple[str, ...], tuple[str, str]] = {
    ("more", "expensive", "than"): (">", "price"),
    ("less", "expensive", "than"): ("<", "price"),
    ("cheaper", "than"): ("<", "price"),
    ("pricier", "than"): (">", "price"),
    ("newer", "than"): (">", "year"),
    ("older", "than"): ("<", "year"),
    ("no", "more", "than"): ("<=", ""),
    ("no", "less", "than"): (">=", ""),
    ("not", "more", "than"): ("<=", ""),
    ("not", "less", "than"): (">=", ""),
    ("more", "than"): (">", ""),
    ("greater", "than"): (">", ""),
    ("higher", "than"): (">", ""),
    ("larger", "than"): (">", ""),
    ("bigger", "than"): (">", ""),
    ("less", "than"): ("<", ""),
    ("fewer", "than"): ("<", ""),
    ("lower", "than"): ("<", ""),
    ("smaller", "than"): ("<", ""),
    ("at", "least"): (">=", ""),
    ("at", "most"): ("<=", ""),
    ("up", "to"): ("<=", ""),
    ("equal", "to"): ("=", ""),
    ("exactly",): ("=", ""),
    ("over",): (">", ""),
    ("above",): (">", ""),
    ("exceeding",): (">", ""),
    ("under",): ("<", ""),
    ("below",): ("<", ""),
    ("after",): (">", "year"),
    ("since",): (">=", "year"),
    ("before",): ("<", "year"),
    ("between",): ("between", ""),
}

NEGATIONS = frozenset({"not", "no", "non", "except", "excluding", "without", "isn't", "aren't"})

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}


def singular(word: str) -> str:
    """A plural's singular by English rules good enough for names (``categories``,
    ``boxes``, ``orders``); other words as they are."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def forms(name: str) -> set[str]:
    """The words that name ``name`` (a collection or field): itself, singular, plural, and
    its words apart when it is ``snake_case``."""
    lowered = name.lower()
    one = singular(lowered)
    found = {lowered, one, one + "s", one[:-1] + "ies" if one.endswith("y") else one + "es"}
    if "_" in lowered:
        found.add(lowered.replace("_", " "))
    return found


def group_of(word: str) -> frozenset[str] | None:
    """The meaning group holding ``word``, if any."""
    return next((g for g in GROUPS if word in g), None)
