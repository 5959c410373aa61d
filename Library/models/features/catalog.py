"""The candidate indicators: every time-series output of TA-Lib 0.6.7's seven groups, with how each is made scale-free.

The paper (Alphathon 2024, section 4) draws 42 indicators from Cycle Indicators, Momentum Indicators,
Overlap Studies, Price Transform, Statistic Functions, Volatility Indicators and Volume Indicators, but
never lists them. This catalog is the candidate set; ``selected_42.py`` (made by
``scripts/select_features.py``) is the fixed list the models read.

``scale`` says how an output is freed of the price level before normalisation:

* ``level``: a price-level series (moving averages, bands, price transforms): ``x / close - 1``;
* ``diff``: a price difference (MACD, ATR, slopes, directional movement): ``x / close``;
* ``variance``: a squared price difference (VAR): ``sqrt(x) / close``;
* ``free``: already unitless (oscillators, ratios, periods, phases) or made so by the trailing z-score
  (AD, OBV and ADOSC are volume-scaled with an arbitrary origin; a z-score removes both).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IndicatorSpec:
    function: str
    group: str
    outputs: tuple[str, ...]
    scale: str
    params: dict[str, Any] = field(default_factory=dict)

    def names(self) -> list[str]:
        if len(self.outputs) == 1:
            return [self.function]
        return [f"{self.function}_{o}" for o in self.outputs]


def _s(function: str, group: str, scale: str, outputs: tuple[str, ...] = ("real",), **params: Any) -> IndicatorSpec:
    return IndicatorSpec(function, group, outputs, scale, params)


CY, MO, OV, PT, ST, VT, VO = ("Cycle Indicators", "Momentum Indicators", "Overlap Studies", "Price Transform",
                              "Statistic Functions", "Volatility Indicators", "Volume Indicators")

CANDIDATES: tuple[IndicatorSpec, ...] = (
    _s("HT_DCPERIOD", CY, "free"), _s("HT_DCPHASE", CY, "free"),
    _s("HT_PHASOR", CY, "diff", ("inphase", "quadrature")), _s("HT_SINE", CY, "free", ("sine", "leadsine")),
    _s("HT_TRENDMODE", CY, "free", ("integer",)),
    _s("ADX", MO, "free"), _s("ADXR", MO, "free"), _s("APO", MO, "diff"), _s("AROON", MO, "free", ("aroondown", "aroonup")),
    _s("AROONOSC", MO, "free"), _s("BOP", MO, "free"), _s("CCI", MO, "free"), _s("CMO", MO, "free"), _s("DX", MO, "free"),
    _s("MACD", MO, "diff", ("macd", "macdsignal", "macdhist")),
    _s("MACDEXT", MO, "diff", ("macd", "macdsignal", "macdhist")),
    _s("MFI", MO, "free"), _s("MINUS_DI", MO, "free"), _s("MINUS_DM", MO, "diff"), _s("MOM", MO, "diff"),
    _s("PLUS_DI", MO, "free"), _s("PLUS_DM", MO, "diff"), _s("PPO", MO, "free"), _s("ROCP", MO, "free"),
    _s("RSI", MO, "free"), _s("STOCH", MO, "free", ("slowk", "slowd")), _s("STOCHF", MO, "free", ("fastk", "fastd")),
    _s("STOCHRSI", MO, "free", ("fastk", "fastd")), _s("TRIX", MO, "free"), _s("ULTOSC", MO, "free"),
    _s("WILLR", MO, "free"),
    _s("BBANDS", OV, "level", ("upperband", "middleband", "lowerband"), timeperiod=20),
    _s("DEMA", OV, "level"), _s("EMA", OV, "level"), _s("HT_TRENDLINE", OV, "level"), _s("KAMA", OV, "level"),
    _s("MAMA", OV, "level", ("mama", "fama")), _s("MIDPOINT", OV, "level"), _s("MIDPRICE", OV, "level"),
    _s("SAR", OV, "level"), _s("SAREXT", OV, "level"), _s("SMA", OV, "level"), _s("T3", OV, "level"),
    _s("TEMA", OV, "level"), _s("TRIMA", OV, "level"), _s("WMA", OV, "level"),
    _s("AVGPRICE", PT, "level"), _s("MEDPRICE", PT, "level"), _s("TYPPRICE", PT, "level"), _s("WCLPRICE", PT, "level"),
    _s("BETA", ST, "free"), _s("CORREL", ST, "free"), _s("LINEARREG", ST, "level"),
    _s("LINEARREG_INTERCEPT", ST, "level"), _s("LINEARREG_SLOPE", ST, "diff"), _s("STDDEV", ST, "diff", timeperiod=20),
    _s("TSF", ST, "level"), _s("VAR", ST, "variance", timeperiod=20),
    _s("ATR", VT, "diff"), _s("NATR", VT, "free"), _s("TRANGE", VT, "diff"),
    _s("AD", VO, "free"), _s("ADOSC", VO, "free"), _s("OBV", VO, "free"),
)

EXCLUDED: dict[str, str] = {
    "MA": "identical to SMA with its default (matype 0)",
    "MACDFIX": "identical to MACD(12, 26, 9)",
    "MAVP": "needs a per-bar array of periods, which daily bars do not provide",
    "ROC": "an affine transform of ROCP (100 x ROCP): perfectly collinear",
    "ROCR": "an affine transform of ROCP (1 + ROCP)",
    "ROCR100": "an affine transform of ROCP (100 + 100 x ROCP)",
    "LINEARREG_ANGLE": "atan of LINEARREG_SLOPE in price units: a nonlinear function of the price level; "
                       "LINEARREG_SLOPE / close carries the same information scale-free",
}


def candidate_names() -> list[str]:
    return [name for spec in CANDIDATES for name in spec.names()]
