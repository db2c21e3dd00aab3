"""The Dask recipe: a frame captioned across two worker processes, the cache file shared."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from sensenova_widget.captions.cache import ResultCache

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_map_partitions_on_a_local_cluster_with_a_shared_cache(emulator, tmp_path):
    import dask.dataframe as dd

    from sensenova_widget.captions import caption_meta, caption_partition

    # Paths, as a real frame on a cluster would hold: each worker reads its own rows' files.
    colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    paths = []
    for i, colour in enumerate(colours * 2):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (40, 30), colour).save(path)
        paths.append(str(path))
    df = pd.DataFrame({"image": paths, "n": range(len(paths))})
    ddf = dd.from_pandas(df, npartitions=4)
    cache = str(tmp_path / "shared.sqlite")
    settings = {"api_key": emulator.api_key, "base_url": emulator.base_url}

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        graph = ddf.map_partitions(
            caption_partition,
            "image",
            "Describe picture {n}.",
            client=settings,
            cache=cache,
            concurrency=2,
            meta=caption_meta(ddf),
        )
        out = graph.compute()
        workers = dask_client.run(lambda: __import__("os").getpid())
        again = graph.compute()  # a recomputation costs no request: the workers share the cache

    assert len(set(workers.values())) == 2
    assert list(out.index) == list(df.index)
    assert [text.split("\n")[0] for text in out["caption"]] == [f"Describe picture {i}." for i in range(12)]
    assert all(f"mostly {c}" in text for c, text in zip(colours * 2, out["caption"]))
    assert out["caption_error"].isna().all()
    assert len(emulator.requests) == 12
    pd.testing.assert_frame_equal(again, out)
    with ResultCache(cache) as shared:
        assert len(shared) == 12
