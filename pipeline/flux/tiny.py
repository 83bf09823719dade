"""A tiny, randomly initialised but structurally real Flux pipeline, saved like a real model.

Every component is the real class a FLUX.1 checkpoint uses (FluxTransformer2DModel, AutoencoderKL,
CLIPTextModel + CLIPTokenizer, T5EncoderModel + T5 fast tokenizer, FlowMatchEulerDiscreteScheduler
with FLUX.1-dev's shift settings), only with minute sizes, so ``FluxImg2ImgPipeline.from_pretrained``
loads it exactly as it loads a real folder. Its images are noise-like: it checks plumbing, not style.

No network: both tokenizers are made here from what the pip packages ship. The CLIP one is a
byte-level BPE whose vocabulary is the 256 byte symbols (plain and word-final), with no merges, written
as vocab.json + merges.txt; the T5 one is a ``tokenizers`` Unigram model over ASCII pieces, written as
tokenizer.json. Both are loaded back through transformers' ``from_pretrained`` (which works on
transformers 4.x, where CLIPTokenizer is the Python one, and on 5.x) before the pipeline saves them.

Importing this module imports torch/diffusers/transformers: reach it via ``pipeline.flux``.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxImg2ImgPipeline, FluxTransformer2DModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5TokenizerFast

HIDDEN = 32  # width of both text encoders, so also the transformer's joint/pooled dims
CLIP_MAX_LEN = 77
T5_MAX_LEN = 512


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE (GPT-2/CLIP) uses for the bytes 0..255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in symbols:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def _clip_tokenizer(staging: Path) -> CLIPTokenizer:
    folder = staging / "clip"
    folder.mkdir()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for sym in _byte_symbols():
            vocab[sym + suffix] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "model_max_length": CLIP_MAX_LEN,
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
    }), encoding="utf-8")
    return CLIPTokenizer.from_pretrained(str(folder))


def _t5_tokenizer(staging: Path) -> T5TokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    for ch in string.ascii_letters + string.digits + string.punctuation:
        pieces += [(ch, -3.0), ("▁" + ch, -4.0)]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
    ])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    folder = staging / "t5"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "model_max_length": T5_MAX_LEN, "extra_ids": 0,
        "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
    }), encoding="utf-8")
    return T5TokenizerFast.from_pretrained(str(folder))


def build(folder: Path, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiny-flux-tok-") as tmp:
        tokenizer = _clip_tokenizer(Path(tmp))
        tokenizer_2 = _t5_tokenizer(Path(tmp))

    # Seed each component on its own, without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=37, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=CLIP_MAX_LEN, projection_dim=HIDDEN,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, hidden_act="quick_gelu",
        ))
        torch.manual_seed(seed + 1)
        text_encoder_2 = T5EncoderModel(T5Config(
            vocab_size=len(tokenizer_2), d_model=HIDDEN, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", is_encoder_decoder=False,
            pad_token_id=tokenizer_2.pad_token_id, eos_token_id=tokenizer_2.eos_token_id,
            decoder_start_token_id=tokenizer_2.pad_token_id,
        ))
        torch.manual_seed(seed + 2)
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, sample_size=32,
            use_quant_conv=False, use_post_quant_conv=False,
            scaling_factor=0.3611, shift_factor=0.1159,  # FLUX.1's VAE values
        )
        torch.manual_seed(seed + 3)
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=4 * vae.config.latent_channels,  # latents are packed 2x2
            num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
            joint_attention_dim=HIDDEN, pooled_projection_dim=HIDDEN, guidance_embeds=True,
            axes_dims_rope=(4, 4, 8),
        )
    scheduler = FlowMatchEulerDiscreteScheduler(  # FLUX.1-dev's scheduler config
        num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True,
        base_shift=0.5, max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096,
    )
    pipe = FluxImg2ImgPipeline(
        scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer,
    )
    pipe.save_pretrained(str(folder))
