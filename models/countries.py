"""ISO 3166-1 alpha-2 country codes (the 249 officially assigned ones).

Taken from Debian's ``iso-codes`` package (``iso_3166-1.json``) so that the
service needs no run-time dependency for a fixed list.
"""

from __future__ import annotations

from functools import lru_cache

ISO_3166_ALPHA2: frozenset[str] = frozenset(
    """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR
CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI
SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split()  # noqa: SIM905 - the table reads as the standard prints it
)


def _pattern(codes: frozenset[str]) -> str:
    """A JSON-schema pattern matching exactly the strings that ``models.request`` accepts as a country code.

    Validation takes a two-character string, strips it and upper-cases it, and looks the result up;
    Python's ``str.upper`` maps a few non-ASCII characters onto ASCII letters (``ı`` -> ``I``,
    ``ſ`` -> ``S``) and a few ligatures onto two letters (``ﬁ`` -> ``FI``, with a space stripped
    beside it), so the pattern is derived from ``str.upper``/``str.strip`` over every code point rather
    than written by hand, and the schema then promises no more and no less than validation keeps.
    """
    chars = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
    single: dict[str, list[str]] = {}  # letter -> characters that upper-case to it
    double: dict[str, list[str]] = {}  # two letters -> characters that upper-case to them
    for c in chars:
        up = c.upper()
        if len(up) == 1 and "A" <= up <= "Z":
            single.setdefault(up, []).append(c)
        elif len(up) == 2 and up in codes:
            double.setdefault(up, []).append(c)
    spaces = [c for c in chars if c.isspace()]

    def cls(cs: list[str]) -> str:
        return "[" + "".join(_escape(c) for c in sorted(cs)) + "]"

    branches = []
    for first in sorted({code[0] for code in codes}):
        seconds = [c for code in codes if code[0] == first for c in single[code[1]]]
        branches.append(cls(single[first]) + cls(seconds))
    if double:
        ligatures = cls([c for cs in double.values() for c in cs])
        branches += [cls(spaces) + ligatures, ligatures + cls(spaces)]
    return "^(?:" + "|".join(branches) + ")$"


def _escape(c: str) -> str:
    if ord(c) > 0xFFFF:
        raise ValueError(f"U+{ord(c):X} cannot be written as a \\uXXXX escape")
    return c if c.isascii() and c.isalnum() else f"\\u{ord(c):04x}"


@lru_cache(maxsize=1)
def country_pattern() -> str:
    """The JSON-schema pattern of a country code (built once, when a schema is first asked for: about 0.4 s)."""
    return _pattern(ISO_3166_ALPHA2)
