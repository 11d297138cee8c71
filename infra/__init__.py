"""Infrastructure as code for the embedding service: ``infra.sagemaker`` (AWS SageMaker).

Nothing here is imported by the server; it needs boto3 (``pip install .[infra]``).
"""
