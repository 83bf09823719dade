"""Tests of the LatentSync backend, its runner and `alpha doctor`, against a stand-in checkout."""
