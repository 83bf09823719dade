"""The LatentSync runner: alpha's code that runs INSIDE LatentSync's own Python process.

Launched by :mod:`pipeline.stages.lipsync.latentsync` as

    <latentsync python> -m pipeline.stages.lipsync.runner <args.json>

with the working directory at the LatentSync checkout and alpha's package prepended to
PYTHONPATH. It patches a few classes and module attributes of LatentSync (never a file of the
checkout), builds LatentSync's pipeline from the classes ``scripts/inference.py`` uses, the way
it does, and renders each requested episode with the flags alpha chose, keeping the models
loaded between episodes (:mod:`.serve`). The hooks (see :mod:`.hooks`):

* the input video is read straight from the 25 fps clip alpha made (no re-encode into the
  checkout's ``./temp``);
* frames without a face keep their original pixels and are counted instead of aborting;
* the alignment matrices are smoothed over time (centred Gaussian average, cut-aware) and
  the crops are cut again with the smoothed matrices;
* the raw generated crops (before LatentSync's hard in-crop composite) stream, at the
  model's resolution, into ONE ffmpeg encoder (a lossless crops video), with each frame's
  smoothed matrix in ``track.npz``: the runner captures, it never pastes back (alpha's
  restore stage does, in alpha's own process, once the GPU is free);
* LatentSync's own paste-back, its imageio encode, its ffmpeg re-encode and its 16 kHz mux
  never run (alpha muxes the original audio later);
* telemetry goes to a sidecar JSON.

Constraints of that process: Python 3.10, numpy 1.26, OpenCV 4.9. Modules of this package
import only the standard library, numpy and cv2 (nothing else of alpha); torch and
LatentSync's modules are reached only at run time, from inside the hooks, and tensors are
read by duck typing (``.float().cpu().numpy()``).

This ``__init__`` imports nothing: alpha imports it for the protocol constants.
"""

# A line the runner prints on stdout to report progress: "<PREFIX> <phase> <done> <total>".
PROGRESS_PREFIX = "@alpha-progress"
# Phases in the order they run, with their share of the wall time (inference dominates).
PHASES = (("align", 0.08), ("infer", 0.86), ("capture", 0.06))
# Version of the args-file format written by alpha and read by the runner.
ARGS_VERSION = 2
# Exit status of the runner when LatentSync finished without handing its frames to write_video.
EXIT_NO_FRAMES = 3
# Lines of the serve protocol (see .serve): models (re)loaded, in seconds; an episode's status.
LOAD_PREFIX = "@alpha-load"
DONE_PREFIX = "@alpha-done"
# The bytedance/LatentSync commit the hooks patch, run by the real-code test lane.
KNOWN_GOOD_COMMIT = "a229c3948406bc2cf6eaf4873e662e70c6a04746"
KNOWN_GOOD = "bytedance/LatentSync a229c39 (2025-06-20)"
# The first commit whose scripts/inference.py accepts every flag alpha passes (by its source).
FIRST_WITH_FLAGS = "19d6ae6 (2025-06-16)"
