"""Getting a verified model live and keeping track: deploy targets (and the local target's front), the post-deploy
smoke test, the MLflow alias that follows dvc.lock, and the history of promotions and rollbacks from git."""
