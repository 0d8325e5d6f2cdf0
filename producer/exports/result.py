"""What an export did, for its one-line summary."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportResult:
    #: rows written (a table's rows, or an image folder's or shards' samples)
    rows: int
    #: images copied (0 for the table formats)
    images: int
    #: bytes written to the destination
    bytes: int
    #: where it went: the file, or the folder or prefix
    location: str
    #: succeeded jobs whose image was no longer in storage (left out, and counted)
    missing_images: int = 0
