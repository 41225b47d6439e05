"""Should the challenger replace the champion? The statistics (paired bootstrap, McNemar, slices), the gate, the
champion that dvc.lock names at the base, the decision, and the pull-request report that CML posts."""
