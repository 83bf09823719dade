"""Transcribe a voice inside LatentSync's Python, with the Whisper checkpoint it ships.

Run by `pipeline.captions.whisper` as ``<latentsync python> whisper_child.py ARGS.json`` with the
working directory at the checkout and the checkout on PYTHONPATH. This file imports nothing of
alpha (it runs in another interpreter, Python 3.10 with LatentSync's requirements): only the
standard library, numpy, torch and a Whisper package, so nothing is downloaded.

ARGS.json: {"checkpoint": path of a {"dims", "model_state_dict"} file, "audio": a .npy of 16 kHz
mono float32 samples, "language": an ISO 639-1 code or null (detect), "out": path}. It writes
`out` (JSON): {"engine", "language", "segments": [{"start", "end", "text"}], "failed_retries"},
seconds from the start of the audio, text as decoded (plain text, not yet WebVTT-escaped).

openai-whisper, when it is installed there, does the whole transcription. Otherwise LatentSync's
vendored copy (`latentsync.whisper.whisper`) is used: its `transcribe` was cut down to return
encoder features only, but its model, `decode` (with timestamp rules) and tokenizer are whole,
so the windowing over the audio is done here: 30 s windows, segments split at the timestamp
tokens, the next window starting at the last complete segment so that no word is cut.
"""

import json
import sys
import zlib

import numpy as np
import torch

SAMPLE_RATE = 16000
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# A window whose text compresses better than this is a repetition loop: decode it again, warmer.
COMPRESSION_RATIO_MAX = 2.4
SECONDS_PER_TIMESTAMP = 0.02


def main(args_path):
    with open(args_path, encoding="utf-8") as stream:
        args = json.load(stream)
    audio = np.load(args["audio"]).astype(np.float32)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        import whisper  # openai-whisper
    except ImportError:
        whisper = None
    if whisper is not None and hasattr(whisper, "transcribe"):
        result = _openai_whisper(whisper, args, audio, device)
    else:
        result = _vendored(args, audio, device)
    with open(args["out"], "w", encoding="utf-8") as stream:
        json.dump(result, stream)


def _openai_whisper(whisper, args, audio, device):
    model = whisper.load_model(args["checkpoint"], device=device)
    language = args["language"] if args["language"] and model.is_multilingual else None
    output = whisper.transcribe(model, audio, language=language, fp16=device == "cuda",
                                verbose=None)
    segments = [{"start": float(s["start"]), "end": float(s["end"]), "text": s["text"]}
                for s in output["segments"]]
    return {"engine": "openai-whisper", "language": output.get("language"), "segments": segments,
            "failed_retries": []}


def _vendored(args, audio, device):
    from latentsync.whisper.whisper import load_model
    from latentsync.whisper.whisper.audio import HOP_LENGTH, N_FRAMES, log_mel_spectrogram, pad_or_trim
    from latentsync.whisper.whisper.decoding import DecodingOptions
    from latentsync.whisper.whisper.tokenizer import LANGUAGES, get_tokenizer

    model = load_model(args["checkpoint"], device=device)
    fp16 = device == "cuda"
    dtype = torch.float16 if fp16 else torch.float32
    language = args["language"] if args["language"] in LANGUAGES and model.is_multilingual else None
    if not model.is_multilingual:
        language = "en"

    mel = log_mel_spectrogram(torch.from_numpy(audio))
    frames_per_second = SAMPLE_RATE / HOP_LENGTH
    total = mel.shape[-1]
    segments = []
    failures = []
    seek = 0
    while seek < total:
        window_frames = min(N_FRAMES, total - seek)
        window = pad_or_trim(mel[:, seek:seek + N_FRAMES], N_FRAMES).to(device).to(dtype)
        if language is None:  # from the first window, then kept for all
            language = _detect_language(model, window, get_tokenizer, LANGUAGES)
        result = _decode(model, window, DecodingOptions, language, fp16, failures)
        tokenizer = get_tokenizer(model.is_multilingual, language=language, task="transcribe")
        offset = seek / frames_per_second
        found, consumed = _split(result.tokens, tokenizer, window_frames / frames_per_second)
        segments += [{"start": offset + start, "end": offset + end, "text": text}
                     for start, end, text in found]
        # A restart under a second in would crawl; such a window is taken as a whole.
        advance = round(consumed * frames_per_second) if consumed and consumed >= 1.0 else window_frames
        seek += advance
    return {"engine": "latentsync.whisper", "language": language, "segments": segments,
            "failed_retries": failures}


def _detect_language(model, window, get_tokenizer, LANGUAGES):
    """The language whose token the model ranks first after <|startoftranscript|>.

    Done here, not by the vendored detect_language: the tokenizer properties it reads
    (additional_special_tokens) are gone from transformers 5, while token lookup by name works.
    """
    tokenizer = get_tokenizer(True, language="en", task="transcribe")  # any language builds it
    codes = list(LANGUAGES)
    ids = [tokenizer.tokenizer.convert_tokens_to_ids(f"<|{code}|>") for code in codes]
    with torch.no_grad():
        features = model.embed_audio(window.unsqueeze(0))
        start = torch.tensor([[tokenizer.sot]], device=window.device)
        logits = model.logits(start, features)[0, 0]
    return codes[int(torch.argmax(logits[ids]))]


def _decode(model, window, DecodingOptions, language, fp16, failures):
    """Greedy decoding, then warmer sampling while the text is a repetition loop.

    A warmer attempt that fails (the decoder's rules can leave no token to sample) ends the
    retries: the attempt before it is kept, and the failure is listed in `failures`.
    """
    result = None
    for temperature in TEMPERATURES:
        options = DecodingOptions(task="transcribe", language=language, temperature=temperature,
                                  fp16=fp16)
        try:
            attempt = model.decode(window, options)
        except Exception as exc:  # the vendored decoder's finally: can mask its error as another
            if result is None:
                raise
            failures.append({"temperature": temperature, "error": str(exc).splitlines()[0]})
            break
        result = attempt
        if _compression_ratio(result.text) <= COMPRESSION_RATIO_MAX:
            break
    return result


def _compression_ratio(text):
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _split(tokens, tokenizer, window_seconds):
    """Segments (start, end, text) of one window from its tokens, and the seconds they consume.

    Whisper brackets each segment with timestamp tokens: <|t0|> text <|t1|><|t1|> text <|t2|>.
    Text after the last closing timestamp is unfinished: when a complete segment came before
    it, the next window starts at that segment's end; otherwise it runs to the window's end.
    """
    begin = tokenizer.timestamp_begin
    eot = tokenizer.eot
    segments = []
    start = None
    text_tokens = []
    last_end = None
    for token in list(tokens):
        if token == eot:
            break
        if token >= begin:
            moment = min((token - begin) * SECONDS_PER_TIMESTAMP, window_seconds)
            if start is None:
                start = moment
            elif text_tokens:
                segments.append((start, max(moment, start), tokenizer.decode(text_tokens)))
                last_end = moment
                start, text_tokens = None, []
            else:
                start = moment
        elif token < eot:
            text_tokens.append(token)
    if text_tokens:
        tail_start = start if start is not None else (last_end or 0.0)
        if last_end is not None and last_end > 0:
            return segments, last_end
        segments.append((tail_start, window_seconds, tokenizer.decode(text_tokens)))
    return segments, None


if __name__ == "__main__":
    main(sys.argv[1])
