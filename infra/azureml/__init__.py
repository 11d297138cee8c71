"""Azure ML managed online endpoint for the embedding container (Bring-Your-Own-Container).

Modules, one job each:

* ``config``  -- the validated deployment description (:class:`~infra.azureml.config.AzureMLConfig`).
* ``plan``    -- pure builders of ``azure-ai-ml`` entities and their REST bodies; no network.
* ``apply``   -- the control-plane calls through ``MLClient`` (deploy, status, invoke, delete).
* ``__main__`` -- the CLI: ``python -m infra.azureml deploy|status|invoke|delete|plan``.

``main.bicep`` is the declarative equivalent of ``apply.deploy``. Importing this package imports
nothing from ``azure``; ``plan`` and ``apply`` need ``azure-ai-ml`` (the ``infra`` extra).
"""
