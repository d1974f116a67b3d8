"""The sandbox renders what the bot sent as Slack would, and never turns text into markup."""

from __future__ import annotations

from bot.sandbox.blocks import blocks_html, input_state
from bot.sandbox.mrkdwn import mrkdwn_html, plain_html
from bot.slack.text import escape


def test_escaped_mentions_show_literally_and_real_ones_as_mentions() -> None:
    html = mrkdwn_html(escape("<!channel> & <@U1> <script>alert(1)</script>"))
    assert html == "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;script&gt;alert(1)&lt;/script&gt;"
    real = mrkdwn_html("<!here> ask <@U0ANA>", {"U0ANA": "Ana"}.__getitem__)
    assert real == '<span class="mention">@here</span> ask <span class="mention">@Ana</span>'


def test_links_only_for_web_and_mail_and_labels_are_escaped() -> None:
    assert mrkdwn_html("<https://x.example/?a=1&amp;b=2|see <b>>") == (
        "&lt;https://x.example/?a=1&amp;b=2|see &lt;b&gt;&gt;"  # a `<` inside: not a link
    )
    link = mrkdwn_html('<https://x.example/"q|the *docs*>')
    assert link == (
        '<a href="https://x.example/&quot;q" rel="noopener noreferrer" target="_blank">'
        "the *docs*</a>"
    )
    assert "<a" not in mrkdwn_html("<javascript:alert(1)|click>")


def test_formatting_subset_quotes_code_and_emoji() -> None:
    html = mrkdwn_html("*Ticket*\n> line one\n> _two_ ~old~ `a*b*c`\n:warning: :nope:")
    assert html == (
        "<b>Ticket</b><br><blockquote>line one<br><i>two</i> <s>old</s> "
        "<code>a*b*c</code></blockquote>⚠️ :nope:"
    )
    assert mrkdwn_html("snake_case_name and 2*3*4") == "snake_case_name and 2*3*4"


def test_plain_text_is_literal() -> None:
    assert plain_html("*not bold* <b>") == "*not bold* &lt;b&gt;"


def test_buttons_carry_their_label_style_and_confirm() -> None:
    html = blocks_html(
        [
            {
                "type": "actions",
                "block_id": "review:itm_1",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "signoff_approve",
                        "text": {"type": "plain_text", "text": "Approve <now>"},
                        "style": "primary",
                        "confirm": {"title": {"type": "plain_text", "text": 'Sure "yes"?'}},
                    }
                ],
            },
            {"type": "rich_text", "elements": []},
        ]
    )
    assert 'class="bk-button bk-primary"' in html
    assert 'data-block-id="review:itm_1" data-action-id="signoff_approve"' in html
    assert ">Approve &lt;now&gt;</button>" in html
    assert "&quot;Sure \\&quot;yes\\&quot;?&quot;" in html  # JSON, attribute-escaped
    assert "rich_text block the sandbox does not draw" in html


def test_typed_values_become_slack_state_values() -> None:
    view = {
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Other"}, "value": "other"}
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "detail",
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
        ]
    }
    state = input_state(view, {"reason": "other", "detail": ""})
    assert state["reason"]["value"]["selected_option"]["value"] == "other"
    assert state["detail"] == {"value": {"type": "plain_text_input", "value": None}}
    assert input_state(view, {"reason": "forged"})["reason"]["value"]["selected_option"] is None
