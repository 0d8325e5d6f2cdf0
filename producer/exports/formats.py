"""The formats `seedream-batch export` writes (light to import: every command's start loads it)."""

from enum import StrEnum


class ExportFormat(StrEnum):
    """What `export` writes."""

    #: one JSON object per job, metadata nested
    jsonl = "jsonl"
    #: one line per job, a column per metadata name, spreadsheet-safe
    csv = "csv"
    #: one row per job, typed columns
    parquet = "parquet"
    #: the images plus metadata.jsonl, for Hugging Face `datasets`
    imagefolder = "imagefolder"
    #: tar shards of image + json samples
    webdataset = "webdataset"


#: samples per webdataset shard unless --shard-size says otherwise
DEFAULT_SHARD_SIZE = 1000
