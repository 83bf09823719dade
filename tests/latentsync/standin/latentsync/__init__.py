"""STAND-IN for LatentSync's `latentsync` package (tests only; see ../README.md). Not LatentSync."""
