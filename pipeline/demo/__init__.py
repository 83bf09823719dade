"""Sample media the tool makes itself: a portrait, a speech-like voice, foley beds.

Everything is synthesised with numpy and written with the standard library's `wave`, and is
deterministic: the same arguments give byte-identical files.
"""

from .foley import synth_foley
from .portrait import write_portrait
from .speech import synth_speech

__all__ = ["synth_foley", "synth_speech", "write_portrait"]
