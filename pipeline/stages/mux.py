"""Mux stage: voice and foley mixed, then muxed with the restored video (`restore.video`) into the
final MP4 (output `video`)."""

from __future__ import annotations

from ..project.model import Project
from ..project.schema import Episode
from .base import Stage, StageResult, StageRun, StageSpec


class MuxStage(Stage):
    name = "mux"
    version = 1
    upstream = ("restore",)

    def spec(self, episode: Episode, project: Project) -> StageSpec:
        audio = episode.audio
        inputs = {"audio.voice": audio.voice}
        for index, track in enumerate(audio.foley):
            inputs[f"audio.foley[{index}]"] = track.path
        params = {"audio": {"voice_gain_db": audio.voice_gain_db, "duck_db": audio.duck_db,
                            "foley": [{"gain_db": track.gain_db} for track in audio.foley]}}
        return StageSpec(params=params, inputs=inputs)

    def run(self, job: StageRun) -> StageResult:
        from ..media import mix_audio, mux, probe
        voice = job.inputs["audio.voice"]
        duration = probe(voice).duration
        audio = job.params["audio"]
        foley = [(job.inputs[f"audio.foley[{index}]"], track["gain_db"])
                 for index, track in enumerate(audio["foley"])]
        mixed = job.work / "mix.wav"
        mix_audio(voice, mixed, foley=foley, voice_gain_db=audio["voice_gain_db"],
                  duck_db=audio["duck_db"], duration=duration)
        out = job.work / "episode.mp4"
        mux(job.upstream["restore.video"], mixed, out, duration=duration)
        info = probe(out)
        return StageResult({"video": out}, {"duration": info.duration, "width": info.width,
                                            "height": info.height, "fps": info.fps})
