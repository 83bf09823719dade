"""Captions: the cue model, reading WebVTT and SRT files, and transcription with Whisper.

An episode names `captions:` (a WebVTT or SRT file) and/or `transcript:` (text). `cues` is the
data model (no I/O), `files` reads and checks caption files with a real WebVTT parser
(webvtt-py) and converts SRT, `whisper` drives the Whisper checkpoint that LatentSync ships
inside LatentSync's own Python.
"""
