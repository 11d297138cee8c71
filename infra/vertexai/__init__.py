"""Vertex AI online prediction endpoint for the embedding container (custom container), via google-cloud-aiplatform.

Modules, one job each:

* ``config``   -- the validated deployment description (:class:`~infra.vertexai.config.VertexConfig`); no SDK.
* ``plan``     -- pure builders of the ``google.cloud.aiplatform_v1`` request messages (UploadModel, CreateEndpoint,
  DeployModel, UpdateEndpoint, UndeployModel, Delete*), and the traffic split arithmetic; no network.
* ``apply``    -- the calls through ``ModelServiceClient`` / ``EndpointServiceClient`` (clients injectable: tests
  pass fakes or clients on a local fake of the REST API).
* ``__main__`` -- the CLI: ``python -m infra.vertexai plan|deploy|traffic|scale|undeploy|status|delete``.

Importing this package imports nothing from ``google``; ``plan`` and ``apply`` need ``google-cloud-aiplatform``
(the ``infra`` extra).
"""
