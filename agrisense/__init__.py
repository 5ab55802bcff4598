"""agrisense: collateral-free seasonal credit for farmers from Sentinel-2 imagery.

The package is a library of pure computations (arrays and dataclasses in and out) with thin I/O adapters:

``geo`` plot geometry → ``imagery`` STAC/COG → composites → ``ml`` cropland & crop type →
``agronomy`` yield & weather risk → ``credit`` limit, price, schedule → ``services`` (what every front end calls).
"""

__version__ = "0.1.0"
