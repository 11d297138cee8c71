"""deploy / blue-green / scale / delete flows against in-memory fake clients (requests are SDK messages)."""

from __future__ import annotations

from typing import Any

import pytest
from vertex_fakes import IMAGE, PROJECT_NUMBER, FakeVertex

from infra.vertexai import apply
from infra.vertexai.__main__ import main
from infra.vertexai.config import VertexConfig

GREEN_IMAGE = IMAGE.replace(":1.0.0", ":1.1.0")


def make(**overrides: Any) -> VertexConfig:
    return VertexConfig(**{"project": "proj", "endpoint_id": "jina-embed", "image": IMAGE, **overrides})


def test_deploy_order_and_idempotence(fake: FakeVertex) -> None:
    cfg = make()
    result = apply.deploy(fake, cfg)  # type: ignore[arg-type]
    assert fake.rpcs() == ["upload_model", "create_endpoint", "deploy_model"]
    request = fake.calls[-1][1]
    assert dict(request.traffic_split) == {"0": 100}
    assert request.deployed_model.dedicated_resources.machine_spec.machine_type == "g2-standard-8"
    assert result.traffic == {result.deployed_model_id: 100}
    apply.deploy(fake, cfg)  # type: ignore[arg-type]  # again: nothing new is created
    assert fake.rpcs() == ["upload_model", "create_endpoint", "deploy_model"]


def test_a_rerun_matches_the_names_vertex_answers_with_the_project_number(fake: FakeVertex) -> None:
    first = apply.deploy(fake, make())  # type: ignore[arg-type]
    [deployed] = apply.get_endpoint(fake, make()).deployed_models  # type: ignore[arg-type, union-attr]
    assert deployed.model == f"projects/{PROJECT_NUMBER}/locations/us-central1/models/jina-embedding-serving-v1"
    fake.calls.clear()
    again = apply.deploy(fake, make(traffic_percent=100))  # type: ignore[arg-type]
    assert fake.rpcs() == [] and again.deployed_model_id == first.deployed_model_id
    assert apply.same_resource(deployed.model + "@2", make().model_name)
    assert not apply.same_resource(deployed.model, make(model_id="other").model_name)
    assert not apply.same_resource(deployed.model, make(region="europe-west4").model_name)


def test_a_dedicated_endpoint_is_created_as_such_and_reports_its_dns(fake: FakeVertex) -> None:
    cfg = make(dedicated_endpoint=True, inference_timeout_s=1200)
    result = apply.deploy(fake, cfg)  # type: ignore[arg-type]
    create = next(request for rpc, request in fake.calls if rpc == "create_endpoint")
    assert create.endpoint.dedicated_endpoint_enabled
    assert create.endpoint.client_connection_config.inference_timeout.seconds == 1200
    dns = f"jina-embed.us-central1-{PROJECT_NUMBER}.prediction.vertexai.goog"
    assert result.dedicated_endpoint_dns == dns
    assert apply.status(fake, cfg)["dedicated_endpoint_dns"] == dns  # type: ignore[arg-type]
    assert apply.deploy(fake, cfg).dedicated_endpoint_dns == dns  # type: ignore[arg-type]  # a rerun too


def test_an_endpoint_keeps_its_kind(fake: FakeVertex) -> None:
    apply.deploy(fake, make())  # type: ignore[arg-type]  # shared
    fake.calls.clear()
    green = make(image=GREEN_IMAGE, model_id="v2", deployed_model_name="green", dedicated_endpoint=True)
    with pytest.raises(ValueError, match="jina-embed is shared, the config asks for a dedicated one"):
        apply.deploy(fake, green)  # type: ignore[arg-type]
    assert fake.rpcs() == []  # refused before the model was uploaded
    with pytest.raises(ValueError, match="is shared"):
        apply.ensure_endpoint(fake, green)  # type: ignore[arg-type]


def test_existing_endpoint_is_not_recreated(fake: FakeVertex) -> None:
    apply.ensure_endpoint(fake, make())  # type: ignore[arg-type]
    fake.calls.clear()
    apply.deploy(fake, make())  # type: ignore[arg-type]
    assert fake.rpcs() == ["upload_model", "deploy_model"]


def test_blue_green(fake: FakeVertex) -> None:
    blue = apply.deploy(fake, make())  # type: ignore[arg-type]
    green_cfg = make(image=GREEN_IMAGE, model_id="jina-embedding-serving-v2", deployed_model_name="green",
                     traffic_percent=10)  # fmt: skip
    fake.calls.clear()
    green = apply.deploy(fake, green_cfg)  # type: ignore[arg-type]
    assert fake.rpcs() == ["upload_model", "deploy_model"]
    assert dict(fake.calls[-1][1].traffic_split) == {blue.deployed_model_id: 90, "0": 10}
    assert green.traffic == {blue.deployed_model_id: 90, green.deployed_model_id: 10}
    # Blue still serves: undeploy is refused.
    with pytest.raises(ValueError, match="still serves 90%"):
        apply.undeploy(fake, make())  # type: ignore[arg-type]
    fake.calls.clear()
    assert apply.set_traffic(fake, green_cfg, 100) == {blue.deployed_model_id: 0, green.deployed_model_id: 100}  # type: ignore[arg-type]
    assert apply.undeploy(fake, make()) == blue.deployed_model_id  # type: ignore[arg-type]
    assert fake.rpcs() == ["update_endpoint", "undeploy_model"]
    undeploy = fake.calls[-1][1]
    assert (undeploy.deployed_model_id, dict(undeploy.traffic_split)) == (
        blue.deployed_model_id,
        {green.deployed_model_id: 100},
    )
    assert apply.status(fake, make())["traffic"] == {green.deployed_model_id: 100}  # type: ignore[arg-type]


def test_changed_image_under_the_same_ids_is_refused(fake: FakeVertex) -> None:
    apply.deploy(fake, make())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="another deployed_model_name"):
        apply.deploy(fake, make(model_id="jina-embedding-serving-v2"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="new model_id"):
        apply.deploy(fake, make(image=GREEN_IMAGE, deployed_model_name="green", traffic_percent=0))  # type: ignore[arg-type]


def test_green_share_needs_a_live_model(fake: FakeVertex) -> None:
    with pytest.raises(ValueError, match="needs another deployed model"):
        apply.deploy(fake, make(traffic_percent=10))  # type: ignore[arg-type]
    assert fake.rpcs() == []  # refused before anything was created


def test_scale_mutates_in_place(fake: FakeVertex) -> None:
    apply.deploy(fake, make())  # type: ignore[arg-type]
    apply.scale(fake, make(min_replica_count=2, max_replica_count=6, autoscaling_target_accelerator_duty_cycle=70))  # type: ignore[arg-type]
    request = fake.calls[-1][1]
    assert list(request.update_mask.paths) == [
        "dedicated_resources.min_replica_count",
        "dedicated_resources.max_replica_count",
        "dedicated_resources.autoscaling_metric_specs",
    ]
    resources = request.deployed_model.dedicated_resources
    assert (resources.min_replica_count, resources.max_replica_count) == (2, 6)
    assert resources.autoscaling_metric_specs[0].target == 70


def test_delete_undeploys_all_then_deletes_endpoint_and_models(fake: FakeVertex) -> None:
    blue = apply.deploy(fake, make())  # type: ignore[arg-type]
    green = apply.deploy(fake, make(image=GREEN_IMAGE, model_id="v2", deployed_model_name="green", traffic_percent=30))  # type: ignore[arg-type]
    fake.calls.clear()
    assert apply.delete(fake, make()) is True  # type: ignore[arg-type]
    assert fake.rpcs() == ["undeploy_model", "undeploy_model", "delete_endpoint", "delete_model", "delete_model"]
    undeploys = [request for rpc, request in fake.calls if rpc == "undeploy_model"]
    # The least-traffic one (green, 30%) goes first and its share moves to blue; blue goes last, alone.
    assert undeploys[0].deployed_model_id == green.deployed_model_id
    assert dict(undeploys[0].traffic_split) == {blue.deployed_model_id: 100}
    assert (undeploys[1].deployed_model_id, dict(undeploys[1].traffic_split)) == (blue.deployed_model_id, {})
    assert not fake.endpoints_db and not fake.models_db
    assert apply.delete(fake, make()) is False  # type: ignore[arg-type]


def test_cli_deploy_and_delete_with_injected_clients(fake: FakeVertex, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--project", "proj", "--endpoint-id", "jina-embed"]
    assert main(["deploy", *base, "--image", IMAGE], clients=fake) == 0
    assert main(["delete", *base], clients=fake) == 2  # no --yes
    assert main(["delete", *base, "--yes", "--keep-models"], clients=fake) == 0
    assert fake.rpcs()[-1] == "delete_endpoint" and fake.models_db
