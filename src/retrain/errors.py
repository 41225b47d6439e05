"""The two kinds of failure every room may raise; the CLI turns them into exit codes (2 and 1) and one line."""


class BadInput(ValueError):
    """Input the user must fix (a file, a column, a params key, a ref, a URI); the message says what and where."""


class Failed(RuntimeError):
    """Something that should have happened did not (a deployment); what was live stays live."""
