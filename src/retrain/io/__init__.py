"""Files and formats (`files`), the model file (`modelfile`), git and DVC (`vcs`), and HTTP (`http`).

The only room that touches the outside world: every other room hands it paths and gets frames, JSON or models back.
"""
