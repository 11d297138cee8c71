"""The classify slice: Jina's ``/v1/classify`` (zero-shot on embedding models, the model's own labels on
classifiers), TEI's ``/predict``, Infinity's ``/classify``, and classify bodies on ``/invocations``."""
