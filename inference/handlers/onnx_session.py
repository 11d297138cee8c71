"""One ONNX Runtime session of an exported encoder on CPU (no torch): numpy ``input_ids`` and ``attention_mask`` in,
the last hidden state out. Used by the torch-free text handler (onnx_text.py) and the torch handler's ONNX backend
(onnx_backend.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OnnxSession:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort  # here: a server that never runs ONNX never loads it

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Like torch's OMP_WAIT_POLICY=PASSIVE in the service: idle pool threads sleep instead of spinning on
        # cores another worker computes on.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: the optimiser's notes are not the operator's business
        self.path = path
        self.threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def hidden(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden state, float32, shape ``(batch, sequence, width)``."""
        feeds = {"input_ids": input_ids.astype(np.int64, copy=False),
                 "attention_mask": mask.astype(np.int64, copy=False)}  # fmt: skip
        out: np.ndarray = self._session.run(None, feeds)[0]
        return out
