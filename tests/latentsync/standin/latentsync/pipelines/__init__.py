"""STAND-IN for LatentSync (tests only; see the README.md of the stand-in checkout)."""
