#!/usr/bin/env python3
"""Writes the seed corpus of the GGUF reader's fuzz target:
tests/fuzz/corpus/fuzz_gguf/{valid-*,hostile-*}.gguf, and the valid ones
again as the seeds of the writer's (and quantize's) round trip,
tests/fuzz/corpus/fuzz_gguf_roundtrip/valid-*.gguf.

valid-*   small well-formed files (every value type, nested arrays, v2, custom
          alignment, quantized tensors) the fuzzer mutates from.
hostile-* one defect each (truncation, huge counts, overflowing offsets, bad
          alignment, unknown types, bad strings, duplicates, ...). The unit
          test tests/unit/test_gguf.c lists the error each one must produce.

Deterministic; run from anywhere:  python3 tests/data/gen_gguf_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus", "fuzz_gguf")
OUT_ROUNDTRIP = OUT + "_roundtrip"

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
T_F32, T_F16, T_Q4_0, T_Q8_0, T_Q4_K, T_Q5_K, T_Q6_K = 0, 1, 2, 8, 12, 13, 14


def u32(v): return struct.pack("<I", v & 0xFFFFFFFF)
def u64(v): return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
def gstr(s):
    b = s if isinstance(s, bytes) else s.encode()
    return u64(len(b)) + b


def header(n_tensors, n_kv, version=3, magic=b"GGUF"):
    return magic + u32(version) + u64(n_tensors) + u64(n_kv)


def kv(key, vtype, payload):
    return gstr(key) + u32(vtype) + payload


def kv_u32(key, v): return kv(key, U32, u32(v))
def kv_str(key, s): return kv(key, STR, gstr(s))


def arr(etype, items):
    return u32(etype) + u64(len(items)) + b"".join(items)


def tinfo(name, ne, ttype, offset):
    return gstr(name) + u32(len(ne)) + b"".join(u64(x) for x in ne) + u32(ttype) + u64(offset)


def pad(b, align=32):
    return b + b"\0" * ((-len(b)) % align)


def model(version=3, align=None, extra_kv=(), tensors=None):
    """A tiny llama-shaped file: metadata + F32/Q8_0 tensors with data."""
    kvs = [kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 1),
           kv_u32("llama.embedding_length", 32), kv_u32("llama.attention.head_count", 4),
           kv("tokenizer.ggml.tokens", ARR, arr(STR, [gstr(t) for t in ["<unk>", "<s>", "</s>", "a"]])),
           kv("tokenizer.ggml.scores", ARR, arr(F32, [struct.pack("<f", -i) for i in range(4)]))]
    if align:
        kvs.append(kv_u32("general.alignment", align))
    kvs += list(extra_kv)
    a = align or 32
    if tensors is None:
        tensors = [("token_embd.weight", [32, 4], T_F32, 32 * 4 * 4),
                   ("blk.0.attn_q.weight", [32, 32], T_Q8_0, 32 * 34),
                   ("output_norm.weight", [32], T_F32, 32 * 4)]
    infos, data, off = b"", b"", 0
    for name, ne, tt, nbytes in tensors:
        infos += tinfo(name, ne, tt, off)
        data += bytes((i * 7 + off) & 0xFF for i in range(nbytes))
        data = pad(data, a)
        off = len(data)
    body = header(len(tensors), len(kvs), version) + b"".join(kvs) + infos
    return pad(body, a) + data


def all_types(version=3):
    kvs = [kv("t.u8", U8, b"\xc8"), kv("t.i8", I8, b"\x80"), kv("t.u16", U16, b"\x34\x12"),
           kv("t.i16", I16, b"\xff\xff"), kv_u32("t.u32", 4000000000), kv("t.i32", I32, u32(-7)),
           kv("t.f32", F32, struct.pack("<f", 0.5)), kv("t.bool", BOOL, b"\x01"),
           kv_str("t.str", "hello"), kv("t.u64", U64, u64(-1)), kv("t.i64", I64, u64(-(1 << 63))),
           kv("t.f64", F64, struct.pack("<d", -2.25)),
           kv("t.nested", ARR, arr(ARR, [arr(STR, [gstr("a"), gstr("bc")]), arr(STR, []),
                                        arr(U8, [b"\x01", b"\x02"])])),
           kv("t.bools", ARR, arr(BOOL, [b"\x00", b"\x01"]))]
    return header(0, len(kvs), version) + b"".join(kvs)


def write(name, data):
    for out in (OUT, OUT_ROUNDTRIP) if name.startswith("valid-") else (OUT,):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.startswith(("valid-", "hostile-")):
            os.remove(os.path.join(OUT, f))
    good = model()
    write("valid-model-v3.gguf", good)
    write("valid-model-v2.gguf", model(version=2))
    write("valid-model-align64.gguf", model(align=64))
    write("valid-model-align1.gguf", model(align=1))  # tensor data at odd file bytes
    write("valid-all-types-v3.gguf", all_types(3))
    write("valid-all-types-v2.gguf", all_types(2))
    write("valid-quant-types.gguf", model(tensors=[("a", [256], T_Q4_K, 144), ("b", [256], T_Q6_K, 210),
                                                   ("c", [32, 2], T_Q4_0, 36), ("d", [8], T_F16, 16)]))
    write("valid-empty-v3.gguf", header(0, 0))
    # tensors of 0 elements (data NULL when read) next to one with data, and
    # alone (no tensor has a byte); a matrix quantize cannot read (Q5_K)
    zero = [("z", [0], T_F32, 0), ("e.weight", [32, 0], T_F32, 0)]
    write("valid-zero-elements.gguf", model(tensors=[("a.weight", [32, 2], T_F32, 256)] + zero))
    write("valid-zero-elements-only.gguf", model(tensors=zero))
    write("valid-unreadable-matrix.gguf", model(tensors=[("a.weight", [256, 1], T_Q5_K, 176),
                                                         ("b.weight", [32, 2], T_F32, 256)]))

    H = write
    H("hostile-truncated-header.gguf", good[:13])
    H("hostile-truncated-in-metadata.gguf", good[:150])
    H("hostile-truncated-in-tensor-infos.gguf", good[:len(good) // 2 - 700] if len(good) > 1600 else good[:300])
    H("hostile-truncated-tensor-data.gguf", good[:-5])
    H("hostile-bad-magic.gguf", b"GGML" + good[4:])
    H("hostile-version-1.gguf", header(0, 0, version=1))
    H("hostile-version-99.gguf", header(0, 0, version=99))
    H("hostile-big-endian.gguf", b"GGUF" + struct.pack(">I", 3) + struct.pack(">Q", 0) * 2)
    H("hostile-huge-kv-count.gguf", header(0, (1 << 64) - 1) + kv_u32("a", 1))
    H("hostile-huge-tensor-count.gguf", header(1 << 62, 0) + tinfo("t", [32], T_F32, 0))
    H("hostile-huge-array-count.gguf", header(0, 1) + kv("k", ARR, u32(U64) + u64(1 << 61) + u64(0)))
    H("hostile-huge-string-array.gguf", header(0, 1) + kv("k", ARR, u32(STR) + u64(1 << 60) + gstr("x")))
    H("hostile-huge-string-length.gguf", header(0, 1) + kv("k", STR, u64((1 << 64) - 1) + b"abc"))
    H("hostile-huge-key-length.gguf", header(0, 1) + u64(1 << 40) + b"key" + b"\0" * 24)
    H("hostile-string-array-element-past-end.gguf",
      header(0, 1) + kv("k", ARR, u32(STR) + u64(2) + gstr("ok") + u64(1000) + b"short"))
    H("hostile-tensor-offset-overflow.gguf",
      pad(header(1, 0) + tinfo("t", [32], T_F32, (1 << 64) - 32)) + b"\0" * 128)
    H("hostile-tensor-past-end.gguf", pad(header(1, 0) + tinfo("t", [1024], T_F32, 0)) + b"\0" * 128)
    H("hostile-tensor-element-overflow.gguf", header(1, 0) + tinfo("t", [1 << 40, 1 << 40], T_F32, 0))
    H("hostile-tensor-dim-negative.gguf", header(1, 0) + tinfo("t", [(1 << 64) - 1], T_F32, 0))
    H("hostile-tensor-misaligned.gguf", pad(header(1, 0) + tinfo("t", [32], T_F32, 4)) + b"\0" * 256)
    H("hostile-tensor-too-many-dims.gguf", header(1, 0) + tinfo("t", [1, 1, 1, 1, 32], T_F32, 0))
    H("hostile-tensor-unknown-type.gguf", header(1, 0) + tinfo("t", [32], 4, 0))
    H("hostile-tensor-type-huge.gguf", header(1, 0) + tinfo("t", [32], 0xFFFFFFFF, 0))
    H("hostile-tensor-block-mismatch.gguf", header(1, 0) + tinfo("t", [33], T_Q8_0, 0))
    H("hostile-tensor-empty-name.gguf", header(1, 0) + tinfo("", [32], T_F32, 0))
    H("hostile-tensor-duplicate-name.gguf",
      pad(header(2, 0) + tinfo("t", [32], T_F32, 0) + tinfo("t", [32], T_F32, 128)) + b"\0" * 256)
    H("hostile-tensor-overlap.gguf",
      pad(header(2, 0) + tinfo("t", [32], T_F32, 0) + tinfo("u", [32], T_F32, 64)) + b"\0" * 256)
    H("hostile-alignment-not-power-of-two.gguf", model(align=48))
    H("hostile-alignment-zero.gguf", header(0, 1) + kv_u32("general.alignment", 0))
    H("hostile-alignment-wrong-type.gguf", header(0, 1) + kv("general.alignment", U64, u64(32)))
    H("hostile-unknown-value-type.gguf", header(0, 1) + kv("k", 13, u32(0)))
    H("hostile-unknown-array-type.gguf", header(0, 1) + kv("k", ARR, u32(200) + u64(0)))
    H("hostile-key-with-nul.gguf", header(0, 1) + gstr(b"a\0b") + u32(U32) + u32(0))
    H("hostile-key-empty.gguf", header(0, 1) + kv_u32("", 1))
    H("hostile-duplicate-key.gguf", header(0, 2) + kv_u32("same", 1) + kv_u32("same", 2))
    H("hostile-bool-value-2.gguf", header(0, 1) + kv("k", BOOL, b"\x02"))
    H("hostile-bool-array-value.gguf", header(0, 1) + kv("k", ARR, arr(BOOL, [b"\x00", b"\x07"])))
    deep = u32(ARR) + u64(1)
    H("hostile-deep-nesting.gguf", header(0, 1) + kv("k", ARR, deep * 40 + u32(U8) + u64(0)))


if __name__ == "__main__":
    main()
