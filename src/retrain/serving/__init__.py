"""The BentoML service of exactly the model dvc.lock names: the request model generated from the data contract,
micro-batching of concurrent requests, and the JSON-lines inference log that monitoring reads."""
