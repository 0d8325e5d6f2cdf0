"""Keys that would overwrite each other's output: refused when their manifest is read.

A key a batch has twice is refused (the later row), with the line that has it first: the results
table is only ever given keys new to the batch, so it records a chunk without looking for them.
Two keys that are different strings can still name the same thing in storage:

* `Hero` and `hero` are one file on a case-insensitive file system (macOS, Windows, some S3
  gateways), so the second image would replace the first;
* `x` stores `x.jpg` and `x.jpg/y` needs a folder `x.jpg`: one of the two jobs is paid for and
  then fails as `storage: File exists`;
* a job that may return several images (Seedream 4.5 with `max_images`) stores them as
  `a/0.jpg`, `a/1.jpg`, ...: its key `a` claims the folder `a/`, so a key `a/0` (or `a/b/c`) would
  overwrite one of its images or be overwritten by it.

All are found here, as rows stream by, from the casefolded keys seen so far and the folders
their paths open. Memory grows by one entry per key (about 130 bytes; 200 for a key in mixed
case) and one per new folder, never by the rows themselves.
"""

from jobs.keys import OUTPUT_EXTENSIONS
from jobs.quoting import quoted

#: the low bits of a first-seen entry (`_first`), which hold its line
_LINE_BITS = 40


class KeyCollisions:
    """The keys of one manifest so far; `add` says whether a new key collides with one of them."""

    def __init__(self) -> None:
        #: casefolded key -> where it was first seen, and how it was spelled (`_first`)
        self._keys: dict[str, int] = {}
        #: casefolded folder (`a`, `a/b` for key `a/b/c`) -> the first key that opened it, its line
        self._folders: dict[str, tuple[str, int]] = {}
        #: `x` for every folder named like an image (`x.jpg`) -> that folder
        self._image_folders: dict[str, str] = {}
        #: casefolded key of a job that may return several images -> that key, its line
        self._claimed: dict[str, tuple[str, int]] = {}

    def add(self, key: str, line: int, *, claims_folder: bool = False) -> str | None:
        """Record `key` (of row `line`), or say which earlier key it collides with and how.
        `claims_folder`: the job may return several images, stored in the folder `key/`.

        A colliding key is not recorded, so it never hides a later collision.
        """
        folded = key.casefold()
        new_folders = self._new_folders(folded)
        if (clash := self._clash(key, folded, new_folders, claims_folder)) is not None:
            return clash
        self._record(key, folded, line, new_folders, claims_folder)
        return None

    def add_row(self, keys: list[str], line: int, *, claims_folder: bool = False) -> str | None:
        """Record the keys of one row's variants (jobs.variants) as `add` does each, or say how
        the first that collides does: a row that collides records none of its keys."""
        for key in keys:
            folded = key.casefold()
            clash = self._clash(key, folded, self._new_folders(folded), claims_folder)
            if clash is not None:
                return clash
        for key in keys:
            folded = key.casefold()
            self._record(key, folded, line, self._new_folders(folded), claims_folder)
        return None

    def _clash(
        self, key: str, folded: str, new_folders: list[str], claims_folder: bool
    ) -> str | None:
        """How `key` collides with a key recorded before, if it does."""
        if (first := self._keys.get(folded)) is not None:
            first_key, first_line = _spelled(folded, first)
            if first_key == key:
                return (
                    f"duplicate key {quoted(key)}: line {first_line} has it already; keys must be "
                    "unique in a batch"
                )
            return (
                f"{quoted(key)} collides with {quoted(first_key)} on line {first_line} (keys "
                "differ only in case); case-insensitive storage keeps one file for both: rename one"
            )
        if (folder := self._image_folders.get(folded)) is not None:
            other, other_line = self._folders[folder]
            extension = folder.rpartition(".")[2]
            return (
                f"{quoted(key)} collides with {quoted(other)} on line {other_line}: this key's "
                f"image {key}.{extension} would be a folder of that key's path"
            )
        if (clash := self._claimed_folder(key, folded, new_folders, claims_folder)) is not None:
            return clash
        for folder in new_folders:
            stem, _, extension = folder.rpartition(".")
            if extension in OUTPUT_EXTENSIONS and (first := self._keys.get(stem)) is not None:
                other, other_line = _spelled(stem, first)
                return (
                    f"{quoted(key)} collides with {quoted(other)} on line {other_line}: that "
                    f"key's image {other}.{extension} would be a folder of this key's path"
                )
        return None

    def _record(
        self, key: str, folded: str, line: int, new_folders: list[str], claims_folder: bool
    ) -> None:
        self._keys[folded] = _first(key, folded, line)
        if claims_folder:
            self._claimed[folded] = (key, line)
        for folder in new_folders:
            self._folders[folder] = (key, line)
            stem, _, extension = folder.rpartition(".")
            if extension in OUTPUT_EXTENSIONS:
                self._image_folders[stem] = folder

    def _claimed_folder(
        self, key: str, folded: str, new_folders: list[str], claims_folder: bool
    ) -> str | None:
        """How `key` collides with a folder of several images: its own (`claims_folder`) holding
        an earlier key's path, or an earlier key's holding its path."""
        if claims_folder and (opened := self._folders.get(folded)) is not None:
            other, other_line = opened
            return (
                f"{quoted(key)} collides with {quoted(other)} on line {other_line}: this key's "
                f"job may return several images, stored in the folder {key}/ ({key}/0.jpg, ...), "
                "and that key's path is in it: rename one"
            )
        for folder in new_folders:
            if (claimed := self._claimed.get(folder)) is not None:
                other, other_line = claimed
                return (
                    f"{quoted(key)} collides with {quoted(other)} on line {other_line}: that "
                    f"key's job may return several images, stored in the folder {other}/ "
                    f"({other}/0.jpg, ...), and this key's path is in it: rename one"
                )
        return None

    def _new_folders(self, folded: str) -> list[str]:
        """The folders of `folded`'s path not seen yet, innermost first. A folder seen before was
        checked then, and so were its parents (a later key naming its image was refused)."""
        found: list[str] = []
        end = folded.rfind("/")
        while end > 0 and (folder := folded[:end]) not in self._folders:
            found.append(folder)
            end = folded.rfind("/", 0, end)
        return found


def _first(key: str, folded: str, line: int) -> int:
    """Where `key` was first seen and how it was spelled, as one int: its line, and above it the
    bits in which its bytes differ from the folded key's. Keys are ASCII (jobs.keys), so folding
    only clears case bits and the two are the same length. A key in lower case is just its line;
    one in mixed case costs a small int, where a (spelling, line) tuple held another string:
    expanding a campaign of a million mixed-case keys peaked at 328 MB with the tuple, 243 MB
    with this."""
    if key == folded:
        return line
    differs = int.from_bytes(key.encode(), "little") ^ int.from_bytes(folded.encode(), "little")
    return differs << _LINE_BITS | line


def _spelled(folded: str, first: int) -> tuple[str, int]:
    """The key first seen, as it was spelled, and its line."""
    line, differs = first & ((1 << _LINE_BITS) - 1), first >> _LINE_BITS
    if not differs:
        return folded, line
    spelled = int.from_bytes(folded.encode(), "little") ^ differs
    return spelled.to_bytes(len(folded), "little").decode(), line
