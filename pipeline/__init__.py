"""alpha: declarative publishing for an AI-generated video series.

Kept free of imports: this package is also imported inside LatentSync's own process.
"""

__version__ = "0.1.0"
