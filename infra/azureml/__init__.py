"""Azure ML managed online endpoint for the embedding container (Bring-Your-Own-Container).

Modules, one job each:

* ``config``  -- the validated deployment description (:class:`~infra.azureml.config.AzureMLConfig`).
* ``plan``    -- pure builders of ``azure-ai-ml`` entities (and the azure-mgmt-monitor autoscale setting) and
  their REST bodies, plus the checks against what already exists; no network.
* ``apply``   -- the control-plane calls through ``MLClient`` (deploy, status, invoke, delete) and
  ``MonitorManagementClient`` (autoscale).
* ``capacity`` -- autoscale-aware capacity: a re-deploy keeps the live instance count of an autoscaled deployment,
  and a delete removes the autoscale settings that target what it deletes.
* ``__main__`` -- the CLI: ``python -m infra.azureml deploy|status|invoke|delete|plan``.

``main.bicep`` is the declarative equivalent of ``apply.deploy`` (the tests render it and compare the bodies).
Importing this package imports nothing from ``azure``; ``plan`` and ``apply`` need ``azure-ai-ml`` (the ``infra``
extra), and ``azure-mgmt-monitor`` (same extra) once ``autoscaling`` is configured.
"""
