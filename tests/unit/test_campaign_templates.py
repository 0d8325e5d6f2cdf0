"""Campaign templates read fields and nothing else; a value is never a template in turn."""

import pytest

from producer.campaigns.templates import Template, TemplateError, ValueProblem


def test_placeholders_are_replaced_by_their_fields_and_double_braces_are_braces() -> None:
    template = Template.parse("prompt", "{{logo}} {name} in {Colour name}, {n}{flag}{{}}")

    text = template.render({"name": "a mug", "Colour name": "red", "n": 3, "flag": True})

    assert text == "{logo} a mug in red, 3true{}"
    assert template.fields == ("name", "Colour name", "n", "flag")


def test_a_value_is_put_in_as_it_is_never_read_as_a_template() -> None:
    template = Template.parse("prompt", "say {text}")

    assert template.render({"text": "{secret} {{x}}"}) == "say {secret} {{x}}"


@pytest.mark.parametrize(
    "text",
    [
        "{name.__class__}",
        "{name[0]}",
        "{name!r}",
        "{name:>999999999}",
        "{}",
        "{ name }",
        "{name",
        "name}",
        "{a{b}}",
        "{__import__('os').system('x')}",
    ],
)
def test_anything_but_a_field_name_in_braces_is_refused(text: str) -> None:
    with pytest.raises(TemplateError, match="is not a placeholder: a placeholder is a field name"):
        Template.parse("prompt", text)


def test_a_missing_field_and_a_list_are_problems_of_the_field_read() -> None:
    template = Template.parse("prompt", "{name} with {tags}")

    with pytest.raises(ValueProblem) as missing:
        template.render({"tags": "x"})
    with pytest.raises(ValueProblem) as listed:
        template.render({"name": "a", "tags": ["x", "y"]})

    assert (missing.value.field, missing.value.problem) == (
        "name", "is empty or not given, and the prompt template reads it",
    )  # fmt: skip
    assert listed.value.field == "tags"
    assert listed.value.problem.startswith("is a list; the prompt template can only put text")


def test_in_a_key_every_value_loses_what_a_key_cannot_hold_and_cannot_add_a_folder() -> None:
    template = Template.parse("id", "{sku}/{ratio}-{style}")

    key = template.render({"sku": "A/1", "ratio": "9:16", "style": "line drawing"}, key_safe=True)

    assert key == "A-1/9-16-line-drawing"


def test_a_template_that_would_make_too_much_text_is_refused_before_it_is_made() -> None:
    template = Template.parse("prompt", "{cell}" * 100)

    with pytest.raises(ValueProblem) as caught:
        template.render({"cell": "x" * 1000}, max_chars=50_000)

    assert caught.value.field == "prompt"
    assert "would make 100,000 characters of it; at most 50,000 are allowed" in str(caught.value)
