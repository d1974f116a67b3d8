"""Block Kit to HTML, from the exact blocks the bot sent, for the local workspace's page.

Rendering on the server keeps every piece of text on one escaping path (``bot.sandbox.mrkdwn``),
testable without a browser; the page only swaps the HTML in and wires the buttons. A button
carries its block and action ids (the page sends them back and the sandbox finds the element in
the stored message or view, so what the bot gets is what it sent), its Block Kit label as its
text (so its accessible name), and its confirm dialog as JSON in an attribute.
"""

from __future__ import annotations

import html
import json
from typing import Any

from bot.sandbox.mrkdwn import NameOf, mrkdwn_html, plain_html


def text_html(obj: object, name_of: NameOf | None = None) -> str:
    """A text object (``plain_text`` or ``mrkdwn``) as HTML; anything else renders as nothing."""
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return mrkdwn_html(text, name_of)
    return plain_html(text, emoji=bool(obj.get("emoji", True)))


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def blocks_html(
    blocks: object, name_of: NameOf | None = None, *, errors: dict[str, str] | None = None
) -> str:
    """Every block in order; ``errors`` (block id → message) go under their input blocks."""
    if not isinstance(blocks, list):
        return ""
    return "".join(_block(block, name_of, errors or {}) for block in blocks)


def _block(block: object, name_of: NameOf | None, errors: dict[str, str]) -> str:
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    block_id = str(block.get("block_id") or "")
    if kind == "header":
        return f'<h3 class="bk-header">{text_html(block.get("text"))}</h3>'
    if kind == "divider":
        return '<hr class="bk-divider">'
    if kind == "section":
        return _section(block, block_id, name_of)
    if kind == "context":
        parts = [_context_element(e, name_of) for e in block.get("elements") or []]
        return f'<div class="bk-context">{" ".join(parts)}</div>'
    if kind == "actions":
        parts = [_element(e, block_id) for e in block.get("elements") or []]
        return f'<div class="bk-actions" role="group">{"".join(parts)}</div>'
    if kind == "input":
        return _input(block, block_id, errors.get(block_id))
    if kind == "image":
        alt = plain_html(str(block.get("alt_text") or "image"))
        return f'<div class="bk-image">[image: {alt}]</div>'
    return (
        f'<div class="bk-unknown">[a {plain_html(str(kind))} block the sandbox does not draw]</div>'
    )


def _section(block: dict[str, Any], block_id: str, name_of: NameOf | None) -> str:
    parts = []
    if block.get("text"):
        parts.append(f'<div class="bk-text">{text_html(block.get("text"), name_of)}</div>')
    fields = block.get("fields") or []
    if fields:
        cells = "".join(f'<div class="bk-field">{text_html(f, name_of)}</div>' for f in fields)
        parts.append(f'<div class="bk-fields">{cells}</div>')
    accessory = block.get("accessory")
    if isinstance(accessory, dict):
        parts.append(f'<div class="bk-accessory">{_element(accessory, block_id)}</div>')
    return f'<section class="bk-section">{"".join(parts)}</section>'


def _context_element(element: object, name_of: NameOf | None) -> str:
    if isinstance(element, dict) and element.get("type") == "image":
        return f"[{plain_html(str(element.get('alt_text') or 'image'))}]"
    return f"<span>{text_html(element, name_of)}</span>"


def _element(element: object, block_id: str) -> str:
    """An interactive element of an actions block or a section's accessory."""
    if not isinstance(element, dict):
        return ""
    if element.get("type") != "button":
        kind = plain_html(str(element.get("type")))
        return f'<span class="bk-unknown">[{kind}: not drawn by the sandbox]</span>'
    style = element.get("style")
    classes = "bk-button" + (f" bk-{style}" if style in {"primary", "danger"} else "")
    attrs = [
        f'class="{classes}"',
        'type="button"',
        f'data-block-id="{_attr(block_id)}"',
        f'data-action-id="{_attr(element.get("action_id") or "")}"',
    ]
    if isinstance(element.get("confirm"), dict):
        attrs.append(f'data-confirm="{_attr(json.dumps(element["confirm"]))}"')
    if element.get("url"):
        attrs.append(f'data-url="{_attr(element["url"])}"')
    return f"<button {' '.join(attrs)}>{text_html(element.get('text'))}</button>"


def _input(block: dict[str, Any], block_id: str, error: str | None) -> str:
    element = block.get("element") if isinstance(block.get("element"), dict) else {}
    assert isinstance(element, dict)
    field_id = f"in-{_attr(block_id)}"
    label = text_html(block.get("label"))
    optional = ' <span class="bk-optional">(optional)</span>' if block.get("optional") else ""
    control = _control(element, block_id, field_id, required=not block.get("optional"))
    hint = block.get("hint")
    hint_html = f'<div class="bk-hint">{text_html(hint)}</div>' if hint else ""
    error_html = (
        f'<div class="bk-error" id="err-{_attr(block_id)}" role="alert">{plain_html(error)}</div>'
        if error
        else f'<div class="bk-error" id="err-{_attr(block_id)}" hidden></div>'
    )
    return (
        f'<div class="bk-input" data-block-id="{_attr(block_id)}">'
        f'<label for="{field_id}">{label}{optional}</label>{control}{hint_html}{error_html}</div>'
    )


def _control(element: dict[str, Any], block_id: str, field_id: str, *, required: bool) -> str:
    kind = element.get("type")
    common = (
        f'id="{field_id}" name="{_attr(block_id)}" data-input="{_attr(kind)}" '
        f'data-action-id="{_attr(element.get("action_id") or "")}" '
        f'aria-describedby="err-{_attr(block_id)}"'
    )
    if kind == "plain_text_input":
        initial = str(element.get("initial_value") or "")
        limit = element.get("max_length")
        maxlength = f' maxlength="{int(limit)}"' if isinstance(limit, int) else ""
        placeholder = (element.get("placeholder") or {}).get("text", "")
        extra = f'{maxlength} placeholder="{_attr(placeholder)}"'
        if element.get("multiline"):
            return f"<textarea {common}{extra} rows=5>{html.escape(initial)}</textarea>"
        return f'<input type="text" {common}{extra} value="{_attr(initial)}">'
    if kind == "static_select":
        chosen = (element.get("initial_option") or {}).get("value")
        placeholder = (element.get("placeholder") or {}).get("text") or "Choose…"
        options = [f'<option value="">{plain_html(str(placeholder))}</option>']
        for option in element.get("options") or []:
            value = str(option.get("value", ""))
            selected = " selected" if value == chosen else ""
            label = text_html(option.get("text"))
            options.append(f'<option value="{_attr(value)}"{selected}>{label}</option>')
        return f"<select {common}>{''.join(options)}</select>"
    shown = plain_html(str(kind))
    return f'<div class="bk-unknown" {common}>[{shown} input: not drawn by the sandbox]</div>'


def input_state(view: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    """``view.state.values`` as Slack builds it from what was typed (block id → raw value)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        element = block.get("element") or {}
        block_id = str(block.get("block_id") or "")
        action_id = str(element.get("action_id") or "")
        raw = typed.get(block_id)
        kind = element.get("type")
        if kind == "plain_text_input":
            state: dict[str, Any] = {"type": kind, "value": raw or None}
        elif kind == "static_select":
            chosen = next(
                (o for o in element.get("options") or [] if str(o.get("value")) == raw), None
            )
            state = {"type": kind, "selected_option": chosen}
        else:
            continue
        values[block_id] = {action_id: state}
    return values
