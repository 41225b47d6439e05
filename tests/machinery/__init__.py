"""The machinery (pipeline, monitoring, serving) run on a second domain, `tests.synthetic`, of another shape than the
example: proof that nothing outside `retrain.domain` assumes the example's columns."""
