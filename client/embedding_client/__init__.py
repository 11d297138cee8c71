"""Python client for the embedding (and reranking) service on SageMaker, Azure ML, Vertex AI or a local container.

Installs without torch, transformers or Flask: ``pip install ./client`` (numpy, requests, boto3).
"""

from .asynchronous import (
    MAX_ASYNC_BODY_BYTES,
    AsyncInferenceError,
    AsyncInferenceTimeout,
    AsyncInvocation,
    AsyncJob,
    AsyncLimits,
)
from .classify import Classification, ClassifyResponse, LabelScore
from .client import DEFAULT_BATCH_SIZE, DEFAULT_MAX_BODY_BYTES, SERVERLESS_MAX_BODY_BYTES, EmbeddingClient
from .errors import EmbeddingServiceError
from .multivector import MultiVectorResponse
from .rerank import RerankResponse, RerankResult
from .sparse import SparseResponse, SparseVector
from .tokens import Segmentation, Token
from .transports import HttpTransport, SageMakerTransport, Transport, runtime_client, s3_client
from .vertex import VERTEX_DEDICATED_MAX_BODY_BYTES, VERTEX_MAX_BODY_BYTES, VertexTransport
from .wire import decode_embeddings, plan_batches

__version__ = "0.1.0"
__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_ASYNC_BODY_BYTES",
    "SERVERLESS_MAX_BODY_BYTES",
    "VERTEX_DEDICATED_MAX_BODY_BYTES",
    "VERTEX_MAX_BODY_BYTES",
    "AsyncInferenceError",
    "AsyncInferenceTimeout",
    "AsyncInvocation",
    "AsyncJob",
    "AsyncLimits",
    "Classification",
    "ClassifyResponse",
    "EmbeddingClient",
    "EmbeddingServiceError",
    "HttpTransport",
    "LabelScore",
    "MultiVectorResponse",
    "RerankResponse",
    "RerankResult",
    "SageMakerTransport",
    "Segmentation",
    "SparseResponse",
    "SparseVector",
    "Token",
    "Transport",
    "VertexTransport",
    "decode_embeddings",
    "plan_batches",
    "runtime_client",
    "s3_client",
]
