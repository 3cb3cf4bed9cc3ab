#!/usr/bin/env python3
"""Writes the seed corpus of the model loader's fuzz target:
tests/fuzz/corpus/fuzz_model_load/synth-*.

Each seed is a small `wattlens model synth` file (every family, several
weight types) in the input form tests/fuzz/fuzz_model_load.c reads: a
header byte (the family, an evaluation mode), two token bytes, then one
record per metadata key (keys under "<arch>." relative to the family, so
that flipping the header's family bits moves them all; general.architecture
comes from the header) and one per tensor (name, type, shape; the harness
makes the data). A few KiB each: the byte-level vocabulary of 259 tokens is
most of it.

Deterministic. Needs a built wattlens:
    python3 tests/data/gen_model_load_corpus.py [path/to/wattlens]
(default build/wattlens beside this checkout).
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "fuzz_model_load")

ARCHS = ["llama", "qwen2", "phi3", "gemma", "gemma2", "stablelm", "mistral"]
STRING, ARRAY = 8, 9
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

# name, synth arguments, header family index, evaluation mode (1 decode,
# 2 prefill of 2 tokens, 3 two decodes), flags (0x40 F32 KV cache, 0x80 odd
# address, 0x08 raw data)
SEEDS = [
    ("llama-f32", ["--arch", "llama", "--dim", "32", "--ffn", "48", "--heads", "4", "--kv-heads", "2"], 0, 3, 0),
    ("llama-q4_k", ["--arch", "llama", "--dim", "256", "--ffn", "32", "--heads", "2", "--kv-heads", "1",
                    "--type", "q4_k"], 0, 1, 0),
    ("mistral-f32-odd", ["--arch", "llama", "--dim", "32", "--ffn", "32", "--heads", "2"], 6, 2, 0x80),
    ("qwen2-q8_0", ["--arch", "qwen2", "--dim", "64", "--ffn", "64", "--heads", "4", "--kv-heads", "1",
                    "--type", "q8_0"], 1, 3, 0x40),
    ("phi3-f16", ["--arch", "phi3", "--dim", "32", "--ffn", "48", "--heads", "4", "--type", "f16"], 2, 2, 0),
    ("gemma-q6_k", ["--arch", "gemma", "--dim", "256", "--ffn", "32", "--heads", "2", "--kv-heads", "1",
                    "--type", "q6_k"], 3, 1, 0),
    ("gemma2-q4_0", ["--arch", "gemma2", "--dim", "64", "--ffn", "32", "--heads", "4", "--kv-heads", "2",
                     "--type", "q4_0"], 4, 3, 0x80),
    ("stablelm-bf16", ["--arch", "stablelm", "--dim", "64", "--ffn", "48", "--heads", "4", "--kv-heads", "2",
                       "--type", "bf16"], 5, 2, 0x08),
]


def key_rec(op, suffix, prefixed=True):
    return bytes([op, 1 if prefixed else 0, len(suffix)]) + suffix


# Variants: a seed above with records appended (a tensor dropped, an
# edge-value hyperparameter, a key removed), so that the refusals start
# from a whole model too.
VARIANTS = [
    ("llama-f32", "drop-attn_k", bytes([3, len(b"blk.0.attn_k.weight")]) + b"blk.0.attn_k.weight"),
    ("llama-f32", "attn_k-half-rows", bytes([3, len(b"blk.0.attn_k.weight")]) + b"blk.0.attn_k.weight"
     + bytes([2, len(b"blk.0.attn_k.weight")]) + b"blk.0.attn_k.weight" + bytes([0, 2])
     + struct.pack("<II", 32, 8)),
    ("qwen2-q8_0", "kv-heads-0", key_rec(0, b"attention.head_count_kv") + bytes([4]) + struct.pack("<I", 0)),
    ("phi3-f16", "layers-above-2p30", key_rec(0, b"block_count") + bytes([10]) + struct.pack("<Q", 2**30 + 1)),
    ("gemma2-q4_0", "no-eps", key_rec(1, b"attention.layer_norm_rms_epsilon")),
    ("llama-q4_k", "key-length-huge", key_rec(0, b"attention.key_length") + bytes([4]) + struct.pack("<I", 2**31)),
    # general.architecture holding a NUL byte ("llama\0x" is not llama), or
    # of another type; a count as a string; KV heads that do not group
    ("llama-f32", "arch-nul", key_rec(0, b"general.architecture", False) + bytes([STRING, 7]) + b"llama\0x"),
    ("llama-f32", "arch-u32", key_rec(0, b"general.architecture", False) + bytes([4]) + struct.pack("<I", 7)),
    ("llama-f32", "block-count-string", key_rec(0, b"block_count") + bytes([STRING, 1]) + b"1"),
    ("llama-f32", "kv-heads-3", key_rec(0, b"attention.head_count_kv") + bytes([4]) + struct.pack("<I", 3)),
]


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, n):
        b = self.d[self.o:self.o + n]
        assert len(b) == n, "truncated GGUF"
        self.o += n
        return b

    def u32(self): return struct.unpack("<I", self.take(4))[0]
    def u64(self): return struct.unpack("<Q", self.take(8))[0]
    def str(self): return self.take(self.u64())

    def value(self, t):
        """The value of type t as (type, payload) in the harness's form."""
        if t == STRING:
            s = self.str()
            assert len(s) < 256
            return bytes([len(s)]) + s
        if t == ARRAY:
            et, n = self.u32(), self.u64()
            assert n < 65536 and et != ARRAY
            out = bytes([et]) + struct.pack("<H", n)
            for _ in range(n):
                if et == STRING:
                    s = self.str()
                    assert len(s) < 256
                    out += bytes([len(s)]) + s
                else:
                    out += self.take(SIZES[et])
            return out
        return self.take(SIZES[t])


def gguf_to_records(data):
    r = Reader(data)
    assert r.take(4) == b"GGUF" and r.u32() == 3
    n_t, n_kv = r.u64(), r.u64()
    arch = None
    kvs = []
    for _ in range(n_kv):
        key, t = r.str(), r.u32()
        kvs.append((key, t, r.value(t)))
        if key == b"general.architecture":
            arch = kvs[-1][2][1:]
    out = b""
    for key, t, payload in kvs:
        if key == b"general.architecture":
            continue  # the header's family
        prefix = arch + b"."
        mode, rest = (1, key[len(prefix):]) if key.startswith(prefix) else (0, key)
        assert len(rest) < 256
        out += bytes([0, mode, len(rest)]) + rest + bytes([t]) + payload
    for _ in range(n_t):
        name = r.str()
        n_dims = r.u32()
        ne = [r.u64() for _ in range(n_dims)]
        ttype = r.u32()
        r.u64()  # offset
        assert len(name) < 256 and ttype < 256 and all(x < 2**32 for x in ne)
        out += bytes([2, len(name)]) + name + bytes([ttype, n_dims])
        out += b"".join(struct.pack("<I", x) for x in ne)
    return out


def main():
    wattlens = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "wattlens")
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, args, fam, mode, flags) in enumerate(SEEDS):
            path = os.path.join(tmp, name + ".gguf")
            subprocess.run([wattlens, "model", "synth", "--layers", "1", "--vocab", "259",
                            "--seed", str(i + 1), "--context", "64", *args, "-o", path],
                           check=True, stdout=subprocess.DEVNULL)
            header = bytes([fam | mode << 4 | flags, 1 + i, 200 + i])
            seed = header + gguf_to_records(open(path, "rb").read())
            with open(os.path.join(OUT, "synth-" + name), "wb") as f:
                f.write(seed)
            print(f"synth-{name}: {len(seed)} bytes")
    for base, name, extra in VARIANTS:
        with open(os.path.join(OUT, "synth-" + base), "rb") as f:
            seed = f.read() + extra
        with open(os.path.join(OUT, "synth-" + base + "-" + name), "wb") as f:
            f.write(seed)
        print(f"synth-{base}-{name}: {len(seed)} bytes")


if __name__ == "__main__":
    main()
