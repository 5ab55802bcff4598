"""The plot scorer: frozen tile tasks -> imagery + model evidence per tile -> per-plot evidence -> offers.

``tasks`` (what to score, where the evidence comes from), ``tile`` (score one tile), ``evidence`` (one plot's
evidence from a scored tile), ``caches`` (probabilities on disk, recent tiles in memory), ``offers`` (evidence ->
credit engine), ``run`` (a set of plots, tile by tile through a runner).
"""

from agrisense.scoring.caches import TileMemory, cached_probabilities, model_fingerprint
from agrisense.scoring.evidence import PlotEvidence, TileView, plot_evidence
from agrisense.scoring.offers import CreditInputs, build_offers, load_reference, unusable_outline_offer
from agrisense.scoring.run import InProcessRunner, ScoreRun, TileRunner, run_in_process, score_plots
from agrisense.scoring.tasks import ScoringInputs, TileJob, plan_tiles
from agrisense.scoring.tile import ScoredTile, TileResult, latest_clear, score_tile, true_colour

__all__ = [
    "CreditInputs",
    "InProcessRunner",
    "PlotEvidence",
    "ScoreRun",
    "ScoredTile",
    "ScoringInputs",
    "TileJob",
    "TileMemory",
    "TileResult",
    "TileRunner",
    "TileView",
    "build_offers",
    "cached_probabilities",
    "latest_clear",
    "load_reference",
    "model_fingerprint",
    "plan_tiles",
    "plot_evidence",
    "run_in_process",
    "score_plots",
    "score_tile",
    "true_colour",
    "unusable_outline_offer",
]
