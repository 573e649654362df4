"""The ONNX export leaves the process's logging as it found it."""

import subprocess
import sys
import textwrap


def test_quantising_does_not_configure_root_logging(tmp_path):
    # In a fresh interpreter: pytest's own log capture puts handlers on the root logger,
    # which would hide the side effect this guards against.
    child = textwrap.dedent(
        f"""
        import logging, pathlib
        import onnxruntime.quantization as q
        from retrieval.embedding import export as onnx_export

        def fake_quantize(src, dst, **kwargs):
            logging.warning("Please consider to run pre-processing before quantization.")
            pathlib.Path(dst).write_bytes(b"model")

        q.quantize_dynamic = fake_quantize
        out = pathlib.Path({str(tmp_path)!r}) / "model-int8.onnx"
        onnx_export._quantize(out.with_name("model.onnx"), out)
        logging.getLogger("bm25s").debug("Building index from tokens")
        print(len(logging.getLogger().handlers), out.read_bytes().decode())
        """
    )
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["0", "model"]
    assert "pre-processing" not in result.stderr and "Building index" not in result.stderr
