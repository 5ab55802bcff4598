"""In-season monitoring of financed plots (early warnings from a re-score up to a date)."""
