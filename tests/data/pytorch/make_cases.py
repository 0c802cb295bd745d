# Writes the small PyTorch checkpoints in this folder: real torch.save files
# for edge cases (tied weights, views, every dtype, nested training
# checkpoints, legacy streams) and hostile ones (pickles that would run code,
# unknown globals, path tricks, storages larger than their entries).
#
# Run once by hand with a Python that has torch (Debian's python3-torch):
#   python3 tests/data/pytorch/make_cases.py tests/data/pytorch
# The tests never run it: they read the files it wrote, which are checked in.
import collections
import hashlib
import io
import os
import pickle
import struct
import sys
import zipfile

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else "."
SENTINEL = "/tmp/owf-pickle-test-pwned"


def out(name):
    return os.path.join(OUT, name)


def digest(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


def report(path):
    obj = torch.load(path)
    def walk(o, prefix):
        if isinstance(o, torch.Tensor):
            print(f"  {prefix}: {o.dtype} {list(o.shape)} {digest(o)}")
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, f"{prefix}.{i}" if prefix else str(i))
    print(path)
    walk(obj, "")


def zip_with_pickle(path, data_pkl, storages=None, extra=None, archive="archive"):
    """A PyTorch-layout zip around a handmade data.pkl."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", data_pkl)
        z.writestr(f"{archive}/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"{archive}/data/{key}", data)
        z.writestr(f"{archive}/version", "3\n")
        for name, data in (extra or {}).items():
            z.writestr(name, data)


# --- pickle assembly for handmade cases --------------------------------------
def u(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def small(i):
    return b"K" + bytes([i])


def tensor_v2(storage_type, key, numel, offset, size, stride):
    p = glob("torch._utils", "_rebuild_tensor_v2") + b"("
    p += b"(" + u("storage") + glob("torch", storage_type) + u(key) + u("cpu") + b"J" + struct.pack("<i", numel) + b"tQ"
    p += b"J" + struct.pack("<i", offset)
    p += b"(" + b"".join(b"J" + struct.pack("<i", s) for s in size) + b"t"
    p += b"(" + b"".join(b"J" + struct.pack("<i", s) for s in stride) + b"t"
    p += b"\x89" + glob("collections", "OrderedDict") + b")R" + b"tR"
    return p


def tensor_v3(dtype, key, nbytes, offset, size, stride):
    p = glob("torch._utils", "_rebuild_tensor_v3") + b"("
    p += b"(" + u("storage") + glob("torch", "UntypedStorage") + u(key) + u("cpu") + b"J" + struct.pack("<i", nbytes) + b"tQ"
    p += b"J" + struct.pack("<i", offset)
    p += b"(" + b"".join(b"J" + struct.pack("<i", s) for s in size) + b"t"
    p += b"(" + b"".join(b"J" + struct.pack("<i", s) for s in stride) + b"t"
    p += b"\x89" + glob("collections", "OrderedDict") + b")R" + glob("torch", dtype) + b"tR"
    return p


def state_dict_pickle(items):
    p = b"\x80\x02}("
    for name, body in items:
        p += u(name) + body
    return p + b"u."


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def main():
    torch.manual_seed(7)

    # Tied weights, a slice and a transposed view of one storage.
    w = torch.arange(12, dtype=torch.float32).reshape(4, 3) / 4
    tied = collections.OrderedDict()
    tied["embed.weight"] = w
    tied["lm_head.weight"] = w
    tied["rows"] = w[1:3]
    tied["transposed"] = w.t()
    tied["column"] = w[:, 1]
    torch.save(tied, out("tied.pt"))
    torch.save(tied, out("tied_legacy.pt"), _use_new_zipfile_serialization=False)

    # Every dtype torch 1.13 shares with OWF, a 0-d tensor and an empty one.
    d = collections.OrderedDict()
    d["f32"] = torch.tensor([1.5, -2.25, 3.0], dtype=torch.float32)
    d["f64"] = torch.tensor([1e-300, 2.5], dtype=torch.float64)
    d["f16"] = torch.tensor([0.5, 65504.0, -1.0], dtype=torch.float16)
    d["bf16"] = torch.tensor([1.0, -3.5, 1e30], dtype=torch.bfloat16)
    d["i64"] = torch.tensor([-(2**62), 5], dtype=torch.int64)
    d["i32"] = torch.tensor([-7, 2**31 - 1], dtype=torch.int32)
    d["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    d["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    d["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["c64"] = torch.tensor([1 + 2j, -3 - 4j], dtype=torch.complex64)
    d["c128"] = torch.tensor([0.5 - 0.25j], dtype=torch.complex128)
    d["scalar"] = torch.tensor(42.0)
    d["empty"] = torch.zeros(0, 3)
    torch.save(d, out("dtypes.pt"))

    # A training checkpoint: model, optimizer state, counters, hyperparameters.
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    ckpt = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "best_loss": 0.25,
        "arch": "tiny-mlp",
        "betas": (0.9, 0.999),
        "config": {"layers": [3, 4, 2], "act": "relu", "dropout": None},
    }
    torch.save(ckpt, out("training_checkpoint.pt"))

    # float8 tensors, as newer torch writes them (_rebuild_tensor_v3 with an
    # untyped storage); the second one starts at byte 1 of its storage.
    f8_storage = bytes([0x38, 0x40, 0xC4, 0x00, 0x7E, 0x01])
    p = state_dict_pickle([
        ("e4m3", tensor_v3("float8_e4m3fn", "0", 6, 0, [2, 2], [2, 1])),
        ("e5m2", tensor_v3("float8_e5m2", "0", 6, 1, [5], [1])),
        ("u16", tensor_v3("uint16", "1", 4, 0, [2], [1])),
    ])
    zip_with_pickle(out("float8_v3.pt"), p, {"0": f8_storage, "1": struct.pack("<HH", 1, 65535)})

    # A big-endian checkpoint (byteorder "big").
    with zipfile.ZipFile(out("big_endian.pt"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("be/data.pkl", state_dict_pickle([
            ("f32", tensor_v2("FloatStorage", "0", 2, 0, [2], [1])),
            ("i16", tensor_v2("ShortStorage", "1", 3, 0, [3], [1])),
        ]))
        z.writestr("be/byteorder", "big")
        z.writestr("be/data/0", struct.pack(">ff", 1.5, -2.0))
        z.writestr("be/data/1", struct.pack(">hhh", 1, -2, 300))

    # --- hostile files: each must be refused, nothing may run --------------
    cmd = f"touch {SENTINEL}"
    # A __reduce__ calling os.system (pickled as posix.system on Linux).
    zip_with_pickle(out("evil_posix_system.pt"), pickle.dumps({"w": Evil(os.system, cmd)}, protocol=2))
    # The same through builtins.eval (protocol 3: protocol 2 would spell it
    # __builtin__.eval).
    zip_with_pickle(out("evil_eval.pt"),
                    pickle.dumps({"w": Evil(eval, f"__import__('os').system('{cmd}')")}, protocol=3))
    # The classic handwritten os.system pickle.
    zip_with_pickle(out("evil_os_system.pt"), b"cos\nsystem\n(S'" + cmd.encode() + b"'\ntR.")
    # A whole module saved with torch.save: its class is an unknown global.
    class TinyNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
    TinyNet.__module__ = "__main__"
    TinyNet.__qualname__ = "TinyNet"
    globals()["TinyNet"] = TinyNet
    torch.save(TinyNet(), out("unknown_global.pt"))
    # A legacy stream whose main pickle calls posix.system.
    torch.save({"w": Evil(os.system, cmd)}, out("evil_legacy.pt"), _use_new_zipfile_serialization=False)
    # Protocol 4 (STACK_GLOBAL, FRAME, MEMOIZE) with a forbidden global.
    zip_with_pickle(out("evil_protocol4.pt"), pickle.dumps({"w": Evil(os.system, cmd)}, protocol=4))
    # A zip member whose name climbs out of the archive.
    good = state_dict_pickle([("w", tensor_v2("FloatStorage", "0", 2, 0, [2], [1]))])
    zip_with_pickle(out("path_trick.pt"), good, {"0": struct.pack("<ff", 1, 2)},
                    extra={"archive/../../../tmp/owf-evil": b"x"})
    # A storage that declares more elements than its entry holds.
    big = state_dict_pickle([("w", tensor_v2("FloatStorage", "0", 1000, 0, [1000], [1]))])
    zip_with_pickle(out("storage_too_large.pt"), big, {"0": struct.pack("<ff", 1, 2)})
    # A tensor view reaching past the end of its storage.
    past = state_dict_pickle([("w", tensor_v2("FloatStorage", "0", 2, 1, [2], [1]))])
    zip_with_pickle(out("view_past_storage.pt"), past, {"0": struct.pack("<ff", 1, 2)})
    # A storage the pickle names but the archive lacks.
    zip_with_pickle(out("missing_storage.pt"), good, {})

    for name in ["tied.pt", "tied_legacy.pt", "dtypes.pt", "training_checkpoint.pt"]:
        report(out(name))
    print(torch.load(out("training_checkpoint.pt"))["optimizer"]["param_groups"])


if __name__ == "__main__":
    main()
