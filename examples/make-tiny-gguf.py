#!/usr/bin/env python3
"""Write a tiny llama-architecture GGUF model for lpa-run's real-server tests.

Usage: python3 examples/make-tiny-gguf.py OUT.gguf

Weights are random (fixed seed, so the file is byte-for-byte reproducible) and
the output is nonsense, but llama-server loads it and serves /health,
/completion and /v1/chat/completions. Needs `pip install gguf` (and numpy).
"""
import sys

import numpy as np
import gguf

N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF, N_CTX = 64, 2, 4, 2, 128, 2048

# SentencePiece ("llama") vocabulary made only of the specials plus the 256
# byte-fallback tokens: llama.cpp encodes any text as bytes, so no merges or
# real vocabulary are needed. Token types: 2 unknown, 3 control, 6 byte.
TOKENS = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
TYPES = [2, 3, 3] + [6] * 256
N_VOCAB = len(TOKENS)

# ChatML; llama.cpp also recognises it without Jinja (by "<|im_start|>").
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rng = np.random.default_rng(0)

    def rand(*shape: int) -> np.ndarray:
        # numpy shape is (rows, cols) = ggml (ne1, ne0): (out_features, in_features)
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    w = gguf.GGUFWriter(sys.argv[1], "llama")  # also sets general.architecture
    w.add_name("lpa-run tiny test model")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(N_VOCAB)

    w.add_tokenizer_model("llama")
    w.add_token_list(TOKENS)
    w.add_token_scores([0.0] * N_VOCAB)
    w.add_token_types(TYPES)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_chat_template(CHAT_TEMPLATE)

    kv = N_EMBD // N_HEAD * N_HEAD_KV
    w.add_tensor("token_embd.weight", rand(N_VOCAB, N_EMBD))
    for i in range(N_LAYER):
        w.add_tensor(f"blk.{i}.attn_norm.weight", ones(N_EMBD))
        w.add_tensor(f"blk.{i}.attn_q.weight", rand(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_k.weight", rand(kv, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_v.weight", rand(kv, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_output.weight", rand(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", ones(N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", rand(N_FF, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_up.weight", rand(N_FF, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_down.weight", rand(N_EMBD, N_FF))
    w.add_tensor("output_norm.weight", ones(N_EMBD))
    w.add_tensor("output.weight", rand(N_VOCAB, N_EMBD))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
