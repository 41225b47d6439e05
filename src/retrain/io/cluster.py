"""The Dask cluster that the data stages run on when params.yaml says `engine: dask`.

The scheduler is the one at $DASK_SCHEDULER_ADDRESS (a cluster the team runs: the dask-kubernetes operator, `dask
scheduler` and `dask worker` on VMs, a hosted one), or else a LocalCluster on this machine: one single-threaded worker
process per core. The workers run this package's own functions, so they need the same package and lock installed
(the same image), and they read and write the paths of params.yaml: on one machine they do; a remote cluster needs
the repository's folders on storage both sides mount at the same path (README: Past one machine).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import dask
from distributed import Client, LocalCluster

from retrain.errors import BadInput

log = logging.getLogger(__name__)

SCHEDULER = "DASK_SCHEDULER_ADDRESS"
SETTINGS = {
    # pandas 3's `str` columns stay `str`: with this on, Dask casts them to `string` (pd.NA), even with an explicit
    # meta (dask/dask#12035), and the tables would differ from the local engine's
    "dataframe.convert-string": False,
}


@contextlib.contextmanager
def connect(timeout: float = 30) -> Iterator[Client]:
    """A client of the cluster at $DASK_SCHEDULER_ADDRESS, or of a LocalCluster sized to this machine's cores, made
    the default scheduler of `dask.compute` until the block ends (a LocalCluster is then shut down)."""
    address = os.environ.get(SCHEDULER, "").strip()
    os.environ.setdefault("DASK_DATAFRAME__CONVERT_STRING", "False")  # a LocalCluster's workers inherit it
    with dask.config.set(SETTINGS), contextlib.ExitStack() as stack:
        if address:
            client = stack.enter_context(Client(address, timeout=timeout))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=os.cpu_count() or 1,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.WARNING,
                )
            )
            client = stack.enter_context(Client(cluster))
        log.info("dask: %d worker(s) at %s", len(client.scheduler_info()["workers"]), client.scheduler.address)
        _same_code(client)
        yield client


def code_md5() -> str:
    """The md5 of this package's source files (names and contents): what the workers must run too."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.md5()
    for path in sorted(package.rglob("*.py")):
        digest.update(f"{path.relative_to(package)}\n".encode() + path.read_bytes())
    return digest.hexdigest()


def _same_code(client: Client) -> None:
    """Refuse a cluster whose workers run other code than this checkout (an image of another commit): their
    outputs would not be this commit's."""
    ours = code_md5()
    others = {worker: md5 for worker, md5 in client.run(code_md5).items() if md5 != ours}
    if others:
        raise ClusterError(
            f"${SCHEDULER}: {len(others)} worker(s) run another version of the retrain package than this checkout "
            f"(source md5 {ours}; {', '.join(f'{w}: {m}' for w, m in sorted(others.items()))}): run the workers "
            "from an image of this commit (README: Past one machine)"
        )


class ClusterError(BadInput):
    """The cluster cannot run this checkout's stages."""
