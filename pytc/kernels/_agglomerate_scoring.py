"""Scoring names of agglomerate and the waterz scoring functions they reproduce (no compiled code,
so the reference can use it without the extension)."""

import re

# scoring name -> code of Scoring in csrc/core/agglomerate/scoring.hpp
_CODES = {"mean": 0, "max": 1, "min": 2, "quantile": 3, "histogram": 4}
VALID_SCORINGS = (
    "'mean', 'max', 'min', 'quantile-<q>', 'quantile-<q>-histogram' (q an integer in 0..100), "
    "or the equivalent waterz scoring function strings, e.g. "
    "'OneMinus<MeanAffinity<RegionGraphType, ScoreValue>>', "
    "'OneMinus<QuantileAffinity<RegionGraphType, 50, ScoreValue>>', "
    "'OneMinus<HistogramQuantileAffinity<RegionGraphType, 50, ScoreValue, 256>>'"
)
_WATERZ = {
    "OneMinus<MeanAffinity<RegionGraphType,ScoreValue>>": "mean",
    "OneMinus<MaxAffinity<RegionGraphType,ScoreValue>>": "max",
    "OneMinus<MinAffinity<RegionGraphType,ScoreValue>>": "min",
}
_WATERZ_QUANTILE = re.compile(r"OneMinus<QuantileAffinity<RegionGraphType,(\d+),ScoreValue(?:,(true|false))?>>")
_WATERZ_HISTOGRAM = re.compile(
    r"OneMinus<HistogramQuantileAffinity<RegionGraphType,(\d+),ScoreValue,256(?:,(true|false))?>>"
)
_SHORT_QUANTILE = re.compile(r"quantile-(\d+)(-histogram)?")


def parse_scoring(scoring, init_with_max=True, fn="agglomerate"):
    """(kind, q, init_with_max) of a scoring name; see `agglomerate` for the names."""
    if not isinstance(scoring, str):
        raise TypeError(f"{fn}: `scoring` must be a string, one of {VALID_SCORINGS}; got {scoring!r}")
    compact = re.sub(r"\s+", "", scoring)
    if compact in _CODES and compact not in ("quantile", "histogram"):
        return compact, 0, bool(init_with_max)
    if compact in _WATERZ:
        return _WATERZ[compact], 0, bool(init_with_max)
    for pattern, kind in ((_WATERZ_QUANTILE, "quantile"), (_WATERZ_HISTOGRAM, "histogram")):  # noqa: B007 (kind: after the loop)
        match = pattern.fullmatch(compact)
        if match:
            q = int(match.group(1))
            init = bool(init_with_max) if match.group(2) is None else match.group(2) == "true"
            break
    else:
        match = _SHORT_QUANTILE.fullmatch(compact)
        if not match:
            raise ValueError(f"{fn}: `scoring` must be one of {VALID_SCORINGS}; got {scoring!r}")
        q = int(match.group(1))
        kind = "histogram" if match.group(2) else "quantile"
        init = bool(init_with_max)
    if not 0 <= q <= 100:
        raise ValueError(f"{fn}: `scoring` quantile must be in 0..100; got {q} in {scoring!r}")
    return kind, q, init
