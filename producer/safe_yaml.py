"""Reading a YAML file a person wrote (a schedule file, a campaign) without letting it blow up.

safe_load builds no objects of its own choosing, but it still expands aliases: nine nested
`*name` references make a billion values out of a few lines (90 s and 5.5 GB here). These files
are short enough to write each value out, so an alias is refused where it stands.
"""

from typing import Any

import yaml

from jobs.quoting import quoted


class YamlRefused(ValueError):
    """The text is not YAML these files may hold; the message names the line and the cause."""


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load's loader, refusing aliases (`*name`)."""

    what = "this file"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            alias = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
            raise YamlRefused(
                f"line {alias.start_mark.line + 1}: an alias ({quoted('*' + alias.anchor)}) is not "
                f"allowed in {self.what}: write the value out"
            )
        return super().compose_node(parent, index)


def yaml_document(text: str, what: str) -> tuple[Any, yaml.Node | None]:
    """The single document in `text` (None when it is empty) and its node tree, which knows the
    line every value starts on; YamlRefused, naming `what` the file is ("a schedule file"), for
    an alias or text that is not YAML."""
    loader = _NoAliasLoader(text)
    loader.what = what
    try:
        node = loader.get_single_node()
        return (None if node is None else loader.construct_document(node)), node
    except yaml.YAMLError as exc:
        raise YamlRefused(f"not YAML: {exc}".replace("\n", " ")) from None
    finally:
        loader.dispose()
