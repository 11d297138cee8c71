"""The buyer notebook, executed with nbclient: SageMaker and S3 in moto, InvokeEndpoint and the transform jobs'
requests served by the real server process (the container stand-in) with the embedded model."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from marketplace_testing import MARKETPLACE, REGION
from nbclient import NotebookClient

from marketplace import model_package as mp
from marketplace.generate_samples import compare

NOTEBOOK = MARKETPLACE / "buyer_notebook.ipynb"


def inject_parameters(nb: nbformat.NotebookNode, values: dict[str, object]) -> None:
    """Papermill's convention: a cell after the one tagged ``parameters`` overrides its values."""
    index = next(i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)


def outputs_text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(
        output.get("text", "") for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
    )


def test_notebook_has_the_buyer_steps_in_order_and_no_stored_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    headings = [cell.source.splitlines()[0] for cell in nb.cells if cell.cell_type == "markdown"]
    steps = [h for h in headings if h.startswith("## ")]
    assert steps == ["## 1. Subscribe", "## 2. Deploy a real-time endpoint", "## 3. Real-time inference",
                     "## 4. Batch transform", "## 5. Clean up"]  # fmt: skip
    assert all(
        not cell.get("outputs") and cell.get("execution_count") is None for cell in nb.cells if cell.cell_type == "code"
    )
    parameters = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and "model_package_arn" in parameters[0].source


@pytest.fixture
def seller_package(aws) -> str:
    """The seller's model package, created in moto with the real request builder."""
    request = mp.build_request(mp.load_config(MARKETPLACE / "package.example.json"))
    request["ModelPackageName"] = "notebook-test-package"
    return mp.create(aws.sagemaker, request, report=lambda _: None)["ModelPackageArn"]


def test_buyer_notebook_runs_end_to_end(aws, moto_with_transforms, container_url, aws_env, seller_package, tmp_path):
    aws.s3.create_bucket(Bucket="buyer-bucket")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    inject_parameters(
        nb,
        {
            "region": REGION,
            "model_package_arn": seller_package,
            "role_arn": "arn:aws:iam::123456789012:role/buyer-sagemaker",
            "bucket": "buyer-bucket",
            # Listed GPU types that moto 5 knows (its instance type list predates ml.g5).
            "realtime_instance_type": "ml.g4dn.xlarge",
            "transform_instance_type": "ml.g4dn.xlarge",
            "sample_dir": str(MARKETPLACE / "data"),
            "output_dir": str(tmp_path / "batch-output"),
            "poll_seconds": 1,
            "sagemaker_endpoint_url": moto_with_transforms,
            "runtime_endpoint_url": container_url,
            "s3_endpoint_url": moto_with_transforms,
        },
    )
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, **aws_env})

    text = outputs_text(nb)
    assert "all-MiniLM-L6-v2 (3, 384)" in text and "(2, 128) norms: [1. 1.]" in text
    assert "2 lines; [0, 1]" in text
    # The transform outputs the buyer downloaded are the listing's sample outputs.
    for name in ("texts.jsonl.out", "texts.csv.out"):
        expected = MARKETPLACE / "data" / "output" / "batch" / name
        problems = compare(Path(name), expected.read_bytes(), (tmp_path / "batch-output" / name).read_bytes())
        assert not problems, problems
    # Clean-up ran: nothing billable is left, and the transform jobs completed.
    assert aws.sagemaker.list_endpoints()["Endpoints"] == []
    assert not any(m["ModelName"].startswith("embeddings-demo") for m in aws.sagemaker.list_models()["Models"])
    jobs = aws.sagemaker.list_transform_jobs()["TransformJobSummaries"]
    assert sorted(j["TransformJobStatus"] for j in jobs if j["TransformJobName"].startswith("embeddings-demo")) == [
        "Completed",
        "Completed",
    ]
    assert aws.s3.list_objects_v2(Bucket="buyer-bucket").get("KeyCount", 0) == 0
