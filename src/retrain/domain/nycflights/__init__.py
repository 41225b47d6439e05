"""The example domain, NYC flights 2013: its data contract (`schema.py`), cross-column rules (`rules.py`), the
weather join and derived features (`features.py`) and the bundled monthly batches (`data.py`)."""
