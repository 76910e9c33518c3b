"""Option values as the bench scripts take them on their command lines (``name=value``)."""

from __future__ import annotations

WORDS = {"true": True, "false": False, "none": None}


def option_value(text: str) -> object:
    """``true``/``false``/``none`` as themselves, a number as int or float, anything else as given.

    So ``mip_heuristic_run_rins=false``, ``time_limit=30``, ``mip_rel_gap=1e-3``,
    ``presolve=off`` and ``engine.guide_min_integers=none`` all mean what they say.
    """
    if text in WORDS:
        return WORDS[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
