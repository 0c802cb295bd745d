"""owf.torch: a small transformer's state dict in F32, F16 and BF16 with
tied weights through save_file/load_file and save_model/load_model."""

import pytest

torch = pytest.importorskip("torch")

import owf  # noqa: E402
import owf.torch  # noqa: E402


class TinyTransformer(torch.nn.Module):
    def __init__(self, vocab=50, dim=16, heads=2, layers=2):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        layer = torch.nn.TransformerEncoderLayer(dim, heads, dim_feedforward=32, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, layers)
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight  # tied
        self.register_buffer("steps", torch.tensor(7, dtype=torch.int64))

    def forward(self, ids):
        return self.head(self.norm(self.encoder(self.embed(ids))))


def make_model(dtype, seed=0):
    torch.manual_seed(seed)
    return TinyTransformer().to(dtype)


DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_state_dict_round_trip_with_tied_weights(tmp_path, dtype):
    sd = make_model(dtype).state_dict()
    assert sd["head.weight"].data_ptr() == sd["embed.weight"].data_ptr()
    path = tmp_path / "model.owf"
    owf.torch.save_file(sd, path, license="Apache-2.0", hyperparameters={"dim": 16})
    with owf.safe_open(path, "pt") as f:
        assert "head.weight" not in f.keys()  # stored once
        assert f.aliases() == {"head.weight": "embed.weight"}
        assert f.hyperparameters() == {"dim": 16}
        f.verify()
    loaded = owf.torch.load_file(path)
    assert set(loaded) == set(sd)
    for k, v in sd.items():
        assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v), k
    assert loaded["head.weight"] is loaded["embed.weight"]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_save_model_load_model(tmp_path, dtype):
    model = make_model(dtype)
    path = tmp_path / "model.owf"
    owf.torch.save_model(model, path, license="MIT", compression="zstd")
    other = make_model(dtype, seed=1)
    assert not torch.equal(other.embed.weight, model.embed.weight)
    missing, unexpected = owf.torch.load_model(other, path)
    assert missing == [] and unexpected == []
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), k
    assert other.head.weight is other.embed.weight  # still tied
    ids = torch.tensor([[1, 2, 3]])
    model.eval(), other.eval()
    if dtype == torch.float32:
        assert torch.equal(model(ids), other(ids))


def test_load_model_strict_and_files_without_alias_records(tmp_path):
    model = make_model(torch.float32)
    sd = {k: v.clone() for k, v in model.state_dict().items() if k != "head.weight"}
    path = tmp_path / "m.safetensors"  # as safetensors' save_model writes it
    owf.torch.save_file(sd, path)
    missing, unexpected = owf.torch.load_model(make_model(torch.float32, 1), path)
    assert missing == [] and unexpected == []
    del sd["norm.bias"]
    sd["extra"] = torch.zeros(1)
    owf.torch.save_file(sd, path)
    with pytest.raises(RuntimeError, match="norm.bias"):
        owf.torch.load_model(make_model(torch.float32, 1), path)
    missing, unexpected = owf.torch.load_model(make_model(torch.float32, 1), path, strict=False)
    assert missing == ["norm.bias"] and unexpected == ["extra"]


def test_tensors_load_zero_copy_and_writable_without_touching_the_file(tmp_path):
    path = tmp_path / "t.owf"
    owf.torch.save_file({"w": torch.arange(8, dtype=torch.float32)}, path, license="MIT")
    before = path.read_bytes()
    with owf.safe_open(path, "pt") as f:
        mapping = f._reader.mapping
        w = f.get_tensor("w")
        assert mapping.address <= w.data_ptr() < mapping.address + mapping.size
        again = f.get_tensor("w")
    assert again.data_ptr() == w.data_ptr()
    w.mul_(2)  # copy-on-write: this process only
    assert torch.equal(again, torch.arange(8, dtype=torch.float32) * 2)
    assert path.read_bytes() == before
    assert torch.equal(owf.torch.load_file(path)["w"], torch.arange(8, dtype=torch.float32))


def test_other_views_noncontiguous_and_bytes(tmp_path):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    tensors = {"base": base, "t": base.t(), "row": base[1], "empty1": torch.zeros(0), "empty2": torch.zeros(0)}
    path = tmp_path / "v.owf"
    owf.torch.save_file(tensors, path, license="MIT")
    loaded = owf.torch.load_file(path)
    for k, v in tensors.items():
        assert torch.equal(loaded[k], v), k
    assert owf.safe_open(path, "pt").aliases() == {}
    data = owf.torch.save(tensors, license="MIT")
    for k, v in owf.torch.load(data).items():
        assert torch.equal(v, tensors[k])


def test_slices_in_torch(tmp_path):
    x = torch.arange(60, dtype=torch.bfloat16).reshape(6, 10)
    for compression in (None, "zstd"):
        path = tmp_path / "s.owf"
        owf.torch.save_file({"x": x}, path, license="MIT", compression=compression)
        with owf.safe_open(path, "pt") as f:
            s = f.get_slice("x")
            assert s.get_dtype() == "BF16"
            assert torch.equal(s[1:3], x[1:3])
            assert torch.equal(s[2, 4:9], x[2, 4:9])
            assert torch.equal(s[::-1], x.flip(0))
            assert torch.equal(f.get_tensor("x", dtype=torch.float32), x.float())


def test_unsupported_dtypes_in_torch_raise(corpus):
    with owf.safe_open(corpus / "SafeTensors.jl" / "model.safetensors", "pt") as f:
        f8 = [k for k in f.keys() if f.tensor_info(k)["dtype"].startswith("F8")]
        assert f8
        if not hasattr(torch, "float8_e4m3fn"):
            with pytest.raises(owf.OWFError) as info:
                f.get_tensor(f8[0])
            assert info.value.code == owf.ErrorCode.UNSUPPORTED and f8[0] in info.value.message
