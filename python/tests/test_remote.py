"""URLs: safe_open reads an http:// URL with range requests (served here by
a small range-capable server on loopback) and gets the same tensors."""

import http.server
import threading

import numpy as np
import pytest

import owf
import owf.numpy


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves files of `root` with single byte ranges (the first of several)."""

    root = None
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        first, last = 0, len(data) - 1
        spec = self.headers.get("Range", "")
        if spec.startswith("bytes="):
            a, _, b = spec[6:].split(",")[0].partition("-")
            if a:
                first, last = int(a), min(int(b), len(data) - 1) if b else len(data) - 1
            else:
                first = max(0, len(data) - int(b))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        else:
            self.send_response(200)
        body = data[first : last + 1]
        self.send_header("ETag", '"1"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    handler = type("Handler", (_RangeHandler,), {"root": tmp_path})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.skipif(not owf._owf.remote_supported, reason="built without HTTP support")
def test_safe_open_reads_a_url(tmp_path, server):
    tensors = {"a": np.arange(1000, dtype=np.float32), "b": np.ones((3, 4), dtype=np.int64)}
    owf.numpy.save_file(tensors, tmp_path / "m.owf", license="MIT")
    with owf.safe_open(f"{server}/m.owf", framework="np") as f:
        assert sorted(f.keys()) == ["a", "b"]
        for name, value in tensors.items():
            np.testing.assert_array_equal(f.get_tensor(name), value)
    with pytest.raises(owf.OWFError) as info:
        owf.safe_open(f"{server}/missing.owf")
    assert "404" in str(info.value)
