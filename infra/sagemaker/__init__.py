"""SageMaker deployment of the embedding container: ``python -m infra.sagemaker --help``.

Modules, one job each:
- ``config``: pydantic ``DeployConfig`` (the one description of an endpoint: real-time, serverless or async).
- ``modes``: what each mode allows (body size, timeouts, features), the container settings it implies, serverless
  memory sizing, instance types with local NVMe storage.
- ``serverless_rules``: what a serverless endpoint refuses and why (AWS's documented exclusions), its autoscaling of
  provisioned concurrency, the network-isolation default of serverless and async endpoints.
- ``gpu_hosts``: NVIDIA driver per instance family and host AMI; ``check_gpu_host`` refuses hosts the image
  cannot start on (used by ``config`` and ``transform`` before any AWS call).
- ``plan``: pure builders of the boto3 request dicts; no AWS calls.
- ``artifacts``: model.tar.gz packing and S3 upload.
- ``waiters``: polling with progress and failure reasons.
- ``autoscaling``: application-autoscaling target and policy (instance count, or serverless provisioned
  concurrency).
- ``transform``: batch transform jobs.
- ``apply``: the thin boto3 executor for deploy / update / status / delete.
- ``cli``: the command line.
"""
