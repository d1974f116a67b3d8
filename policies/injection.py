"""Text addressed to an AI rather than to a support team: a fact code can check.

A ticket that tries to instruct the model ("ignore previous instructions", "mark this low
risk", a fake system message, look-alike letters) is suspicious whatever the model then says,
so the rules treat it as a fact like a legal threat: a human decides (OWASP LLM01). The
structural defences (delimited data, schema checks, the risk floor) hold without this; it is
defence in depth, and it is the same for every classifier.
"""

from __future__ import annotations

import re

from policies.text import normalise_text, scanned

# Cyrillic, Greek and other letters that look Latin, folded for the injection check only.
_CONFUSABLES = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0501\u0261\u0578\u03bd"
    "\u03bf\u03b1\u03b5\u03b9\u03ba\u03c1\u03c4\u03c5\u0391\u0392\u0395\u0399\u039a\u039c"
    "\u039d\u039f\u03a1\u03a4\u03a7\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421"
    "\u0422\u0425\u0406",
    "aeopcyxijsdgnvoaeikptuABEIKMNOPTXABEKMHOPCTXI",
)

# Text addressed to an AI rather than to a support team. Deterministic defence in depth: the
# structural defences (delimited data, checks below, the rule floor) hold without it.
_INJECTION = re.compile(
    r"(?:ignore|disregard|forget|override|bypass)\W+(?:\w+\W+){0,3}?"
    r"(?:instructions?|prompts?|rules?|guidelines?|polic(?:y|ies)|messages?|context)"
    r"|\b(?:system|developer)\s+(?:prompt|message|instructions?|override)"
    # A line that opens like a chat role ("system:", "[assistant]:", "## tool :"). Spaces are
    # [ \t] and the brackets come at most 8 at a time in their own optional group, so no two
    # quantifiers can share a character: one pass per line start, never cubic on blank lines.
    r"|(?m:^)[ \t]*(?:[\[\(<{#*]{1,8}[ \t]*)?(?:system|assistant|developer|tool)"
    r"[ \t]*(?:[\]\)>}*]{1,8}[ \t]*)?:"
    r"|<\|?\s*(?:im_start|im_end|system|endoftext)|\[/?(?:inst|sys)\]|</?\s*ticket\s*>"
    r"|\byou\s+are\s+(?:now|no\s+longer)\b|\bnew\s+instructions?\b|\bjailbreak|\bdan\s+mode"
    r"|\bdeveloper\s+mode|\bact\s+as\s+(?:an?\s+)?(?:admin|administrator|system|developer)"
    r"|\b(?:mark|classify|set|rate|label|assess|treat)\s+(?:\w+\s+){0,4}?(?:as\s+)?"
    r"(?:low|minimal|no|zero)[\s-]*risk"
    r"|\brisk[_\s-]*(?:level|score)[\"']?\s*[:=]"
    r"|\bauto[\s-]*(?:approve|execute)|\bapprove\s+(?:\w+\s+){0,3}?(?:refund|credit|request)"
    r"|\b(?:do\s+not|don'?t|never)\s+(?:escalate|flag|review)"
    r"|\bwithout\s+(?:a\s+)?(?:(?:human|manual|any)\s*)?(?:review|approval)"
    r"|\bno\s+(?:human\s+|manual\s+)?(?:review|approval)\s+(?:is\s+)?(?:needed|required)",
    re.IGNORECASE,
)


# Characters that show a human reader something other than what a machine reads: bidirectional
# overrides and isolates (reversed text), and the Unicode tag block (invisible ASCII). They have
# no place in a customer's message, so their presence alone counts as addressing the AI.
_HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]")

# Squared, negative circled and negative squared Latin capitals (🅸🅶🅽🅾🆁🅴), which NFKC leaves as
# they are: folded to plain letters for the check.
_ENCLOSED = {
    start + offset: chr(ord("A") + offset)
    for start in (0x1F130, 0x1F150, 0x1F170)
    for offset in range(26)
}


def looks_like_injection(text: str) -> bool:
    """True when the ticket talks to an AI (after folding Unicode tricks and homoglyphs) or
    hides text from the human reading it, in the first ``SCAN_LIMIT`` characters (a longer
    ticket goes to a human anyway: ``policies.risk_rules``)."""
    text = scanned(text)
    if _HIDDEN.search(text):
        return True
    folded = normalise_text(text).translate(_CONFUSABLES).translate(_ENCLOSED)
    return bool(_INJECTION.search(folded))
