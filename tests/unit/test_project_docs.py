"""The project's own documentation stands on its own in a clone.

The design and API notes live in `docs/`; nothing in the repository may send a reader to a folder
a clone does not have, and every link the README and `docs/` make to a local file or heading
resolves.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from jobs.schema import jobs_table

ROOT = Path(__file__).resolve().parents[2]
#: the folder of notes the project was first built from; a clone does not contain it
OUTSIDE_FOLDER = re.compile(r"\b" + "shared" + r"/")
#: `[text](target)` and `![alt](target)`, the target up to a space or the closing parenthesis
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
#: what GitHub drops from a heading's text when it makes the heading's anchor
NOT_IN_ANCHOR = re.compile(r"[^\w\- ]", re.UNICODE)
#: schemes a link may name without the file being in the repository
EXTERNAL = ("http://", "https://", "mailto:")


def tracked_files() -> list[Path]:
    """Every file git tracks (a clone holds exactly these), outside .git itself."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def documentation() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def prose(markdown: str) -> str:
    """The text outside code: a link-like string in a code block or span is not a link."""
    return INLINE_CODE.sub("", FENCED_BLOCK.sub("", markdown))


def anchors(markdown: str) -> set[str]:
    """The anchor GitHub gives each heading (lower case, punctuation dropped, spaces to hyphens;
    a repeated heading gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCED_BLOCK.sub("", markdown)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
        slug = NOT_IN_ANCHOR.sub("", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        found.add(f"{slug}-{count}" if count else slug)
        seen[slug] = count + 1
    return found


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """Each local link of `document` whose file or heading does not exist, as `target: why`."""
    problems = []
    for target in MARKDOWN_LINK.findall(prose(document.read_text())):
        if target.startswith(EXTERNAL):
            continue
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        if not linked.exists():
            problems.append(f"{target}: no file {os.path.relpath(linked, root)}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            problems.append(f"{target}: no heading with anchor #{anchor}")
    return problems


def test_no_tracked_file_sends_readers_to_a_folder_a_clone_does_not_have() -> None:
    citing = []
    for path in tracked_files():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_bytes().decode(errors="replace").splitlines(), 1):
            if OUTSIDE_FOLDER.search(line):
                citing.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert not citing, "\n".join(citing)


def test_the_design_api_and_operations_notes_are_in_the_repository_and_linked() -> None:
    readme_links = MARKDOWN_LINK.findall(prose((ROOT / "README.md").read_text()))
    for note in ("design.md", "cloudflare-api.md", "operations.md"):
        assert (ROOT / "docs" / note).is_file(), note
        assert f"docs/{note}" in readme_links, f"the README does not link docs/{note}"


@pytest.mark.parametrize("document", documentation(), ids=lambda path: path.name)
def test_every_local_link_in_the_readme_and_docs_resolves(document: Path) -> None:
    assert not broken_links(document), broken_links(document)


def test_a_link_to_a_missing_file_or_heading_is_caught(tmp_path: Path) -> None:
    """The link check itself: a broken link and a broken anchor are found, good ones pass."""
    (tmp_path / "README.md").write_text("# Top\n")
    page = tmp_path / "docs" / "probe.md"
    page.parent.mkdir()
    page.write_text(
        "# Probe\n\n## Two words\n\n## Two words\n\n[ok](#two-words-1) [ok](../README.md#top) "
        "[gone](missing.md) [bad anchor](#three-words) `[code](nowhere.md)`\n"
    )
    problems = broken_links(page, tmp_path)
    assert [problem.split(":")[0] for problem in problems] == ["missing.md", "#three-words"]


def test_the_index_statements_in_the_upgrade_notes_are_the_schemas_own() -> None:
    """Operations builds new indexes ahead of an upgrade from these statements: a drift from
    the schema would leave the upgrade to build the real one, blocking writes."""
    notes = (ROOT / "docs" / "operations.md").read_text()
    documented = re.findall(r"CREATE INDEX CONCURRENTLY IF NOT EXISTS (\w+)\s+(ON [^;]+);", notes)
    assert documented
    schema = {index.name: index for index in jobs_table.indexes}
    # SQLAlchemy leaves its dialects' __init__ unannotated
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for name, body in documented:
        ddl = str(CreateIndex(schema[name]).compile(dialect=dialect))
        assert " ".join(ddl.split()) == f"CREATE INDEX {name} {' '.join(body.split())}"
