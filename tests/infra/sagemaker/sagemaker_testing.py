"""Constants shared by the SageMaker tests (a uniquely named module: several conftest.py files exist)."""

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerEmbeddingExecution"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/embedding-serving:0.1.0"
BROKEN_REASON = "CannotStartContainerError. Please ensure the model container for variant AllTraffic starts"
