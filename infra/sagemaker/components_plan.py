"""Pure builders for an inference-components endpoint: ``ComponentsConfig`` -> the exact boto3 requests.

Order of a deployment: one ``CreateModel`` per component (``<component>-<version>``), ``CreateEndpointConfig`` with
``ExecutionRoleArn`` and a variant without ``ModelName`` (instances, routing, managed instance scaling),
``CreateEndpoint``, then one ``CreateInferenceComponent`` per component (named as in the config: clients target it),
then each component's autoscaling.
"""

from __future__ import annotations

from typing import Any

from .autoscaling import NAMESPACE, SERVICE
from .components import ComponentConfig, ComponentsConfig
from .plan import MANAGED_BY, Call, versioned_name

DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
METRIC = "SageMakerInferenceComponentInvocationsPerCopy"


def tags(cfg: ComponentsConfig, component: str | None = None) -> list[dict[str, str]]:
    base = {"ManagedBy": MANAGED_BY, "EmbeddingEndpoint": cfg.endpoint_name}
    if component:
        base["InferenceComponent"] = component
    return [{"Key": key, "Value": value} for key, value in {**base, **cfg.tags}.items()]


def model_name(component: ComponentConfig, version: str) -> str:
    return versioned_name(component.name, version)


def create_model(cfg: ComponentsConfig, component: ComponentConfig, version: str) -> Call:
    """The component's model: the endpoint's image, its own weights and the environment of its share."""
    container: dict[str, Any] = {"Image": cfg.image_uri, "Mode": "SingleModel",
                                 "Environment": component.share_environment()}  # fmt: skip
    if component.model_data:
        container["ModelDataUrl"] = component.model_data
    params: dict[str, Any] = {
        "ModelName": model_name(component, version),
        "ExecutionRoleArn": cfg.role_arn,
        "PrimaryContainer": container,
        "EnableNetworkIsolation": cfg.enable_network_isolation,
        "Tags": tags(cfg, component.name),
    }
    if cfg.subnets:
        params["VpcConfig"] = {"Subnets": list(cfg.subnets), "SecurityGroupIds": list(cfg.security_group_ids)}
    return Call("sagemaker", "create_model", params)


def production_variant(cfg: ComponentsConfig) -> dict[str, Any]:
    """Instances for the components to be placed on: no ``ModelName``, no weight."""
    variant: dict[str, Any] = {
        "VariantName": cfg.variant_name,
        "InstanceType": cfg.instance_type,
        "InitialInstanceCount": cfg.instance_count,
        "RoutingConfig": {"RoutingStrategy": cfg.routing_strategy},
    }
    if cfg.managed_instance_scaling:
        scaling = cfg.managed_instance_scaling
        variant["ManagedInstanceScaling"] = {"Status": "ENABLED", "MinInstanceCount": scaling.min_instances,
                                             "MaxInstanceCount": scaling.max_instances}  # fmt: skip
    if cfg.inference_ami_version:
        variant["InferenceAmiVersion"] = cfg.inference_ami_version
    return variant


def create_endpoint_config(cfg: ComponentsConfig, config_name: str) -> Call:
    params = {"EndpointConfigName": config_name, "ExecutionRoleArn": cfg.role_arn,
              "ProductionVariants": [production_variant(cfg)], "Tags": tags(cfg)}  # fmt: skip
    return Call("sagemaker", "create_endpoint_config", params)


def create_endpoint(cfg: ComponentsConfig, config_name: str) -> Call:
    params = {"EndpointName": cfg.endpoint_name, "EndpointConfigName": config_name, "Tags": tags(cfg)}
    return Call("sagemaker", "create_endpoint", params)


def specification(component: ComponentConfig, model: str) -> dict[str, Any]:
    compute: dict[str, Any] = {"MinMemoryRequiredInMb": component.memory_mb}
    if component.accelerators:
        compute["NumberOfAcceleratorDevicesRequired"] = float(component.accelerators)
    if component.cpu_cores is not None:
        compute["NumberOfCpuCoresRequired"] = component.cpu_cores
    return {
        "ModelName": model,
        "StartupParameters": {"ModelDataDownloadTimeoutInSeconds": component.model_download_timeout_s,
                              "ContainerStartupHealthCheckTimeoutInSeconds": component.startup_health_check_timeout_s},
        "ComputeResourceRequirements": compute,
    }  # fmt: skip


def create_inference_component(cfg: ComponentsConfig, component: ComponentConfig, version: str) -> Call:
    params = {
        "InferenceComponentName": component.name,
        "EndpointName": cfg.endpoint_name,
        "VariantName": cfg.variant_name,
        "Specification": specification(component, model_name(component, version)),
        "RuntimeConfig": {"CopyCount": component.copies},
        "Tags": tags(cfg, component.name),
    }
    return Call("sagemaker", "create_inference_component", params)


def update_inference_component(component: ComponentConfig, version: str, keep_copies: bool) -> Call:
    """A rolling update of a live component to the new model and share; ``keep_copies``: leave the autoscaled
    copy count as it is (no ``RuntimeConfig``)."""
    params: dict[str, Any] = {"InferenceComponentName": component.name,
                              "Specification": specification(component, model_name(component, version))}
    if not keep_copies:
        params["RuntimeConfig"] = {"CopyCount": component.copies}
    return Call("sagemaker", "update_inference_component", params)


def resource_id(component_name: str) -> str:
    return f"inference-component/{component_name}"


def target(component_name: str) -> dict[str, str]:
    return {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id(component_name), "ScalableDimension": DIMENSION}


def policy_name(component_name: str) -> str:
    return f"{component_name}-invocations-per-copy"


def autoscaling_calls(component: ComponentConfig) -> list[Call]:
    """Register the component's copy count and track invocations per copy ([] without ``autoscaling``)."""
    spec = component.autoscaling
    if spec is None:
        return []
    where = target(component.name)
    register = {**where, "MinCapacity": spec.min_copies, "MaxCapacity": spec.max_copies}
    tracking = {"TargetValue": spec.target_value, "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
                "ScaleInCooldown": spec.scale_in_cooldown_s, "ScaleOutCooldown": spec.scale_out_cooldown_s}  # fmt: skip
    policy = {"PolicyName": policy_name(component.name), **where, "PolicyType": "TargetTrackingScaling",
              "TargetTrackingScalingPolicyConfiguration": tracking}  # fmt: skip
    return [Call(SERVICE, "register_scalable_target", register), Call(SERVICE, "put_scaling_policy", policy)]


def removal_calls(client: Any, component_name: str) -> list[Call]:
    """Delete the component's scaling policies and deregister it ([] when it is not registered)."""
    where = target(component_name)
    found = client.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[where["ResourceId"]],
                                             ScalableDimension=DIMENSION)["ScalableTargets"]  # fmt: skip
    if not found:
        return []
    policies = client.describe_scaling_policies(**where)["ScalingPolicies"]
    return [*(Call(SERVICE, "delete_scaling_policy", {"PolicyName": p["PolicyName"], **where}) for p in policies),
            Call(SERVICE, "deregister_scalable_target", where)]  # fmt: skip


def deploy_calls(cfg: ComponentsConfig, version: str) -> list[Call]:
    """Every call of a fresh deployment, in order."""
    config_name = versioned_name(cfg.endpoint_name, version)
    return [
        *(create_model(cfg, component, version) for component in cfg.components),
        create_endpoint_config(cfg, config_name),
        create_endpoint(cfg, config_name),
        *(create_inference_component(cfg, component, version) for component in cfg.components),
        *(call for component in cfg.components for call in autoscaling_calls(component)),
    ]
