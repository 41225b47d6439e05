"""GitOps retraining: a model retrained on demand, reviewed in a pull request, promoted by a merge."""
