"""Risk signals in a customer's own words: what the heuristic classifier raises risk for.

A support message is dangerous to answer automatically when money is at stake and something has
gone wrong with it: activity the customer did not authorise, a card or phone that is lost,
money that has not arrived or has vanished, a wrong amount, a fee the customer contests, a
payment they want stopped, or an account they want closed or changed. Each family below names
one of those situations in general words and patterns (never a list of known messages) and
carries the level it justifies and a reason a reviewer can read on the card.

The families only ever raise risk: a message that matches nothing keeps whatever the category
rules said, and a match can never lower it. Matching is done on folded, lower-cased text with
apostrophes optional, because customers write "didnt" and "dont" as often as "didn't".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policies.risk_levels import RiskLevel
from policies.text import SCAN_LIMIT  # past it we read the start only, say so, and a human decides

__all__ = [
    "FAMILIES",
    "SCAN_LIMIT",
    "URGENCY",
    "SignalFamily",
    "SignalHit",
    "combined_level",
    "find_signals",
]

_EVIDENCE_MAX = 40

# --- Building blocks ----------------------------------------------------------------------------
# ``_GAP`` joins two parts of one idea inside a sentence: it never crosses . ! ? or a new line.

_GAP = r"[^.!?\n]{0,40}?"
_SHORT_GAP = r"[^.!?\n]{0,20}?"
_WIDE_GAP = r"[^\n]{0,90}?"  # may cross one sentence: "I made a transfer. It hasn't arrived."
_NT = r"(?:n'?t|\s+not)"  # didn't, didnt, did not
_NEG = (
    rf"(?:did{_NT}|do{_NT}|does{_NT}|have{_NT}|has{_NT}|had{_NT}|was{_NT}|were{_NT}|is{_NT}|"
    rf"are{_NT}|can'?t|can\s+not|cannot|could{_NT}|never|not|ain'?t|won'?t|wouldn'?t|"
    r"no longer|yet to)"
)
_I = r"(?:i|we|i'?ve|we'?ve|i\s+have|we\s+have|i\s+had|i'?m|i\s+am)"
# "I didn't", "I really did not", "we never even", "I don't think I": the customer denies an act.
_DENIAL = (
    rf"{_I}\s+(?:really\s+|definitely\s+|certainly\s+|honestly\s+|surely\s+)?{_NEG}\s+"
    r"(?:even\s+|ever\s+|actually\s+|personally\s+|really\s+|definitely\s+|"
    r"think\s+(?:i|we)\s+)?"
)
# Things whose money can go astray.
_MONEY = (
    r"(?:money|funds?|cash|balance|refund|deposits?|transfers?|payments?|top[- ]?ups?|"
    r"top[- ]?offs?|topped[- ]?(?:up|off)|cheques?|checks?|salary|transactions?|withdrawals?|"
    r"paycheck|wages|reimbursement|transcations?|transations?)"
    # "top-up verification code", "transfer limit": the money word only names a feature.
    r"(?![\w-])(?!\s+(?:verification|code|cards?|feature|option|settings?|limits?|methods?|"
    r"polic\w*|fees?|charges?|rates?|times?|exports?|reports?|lists?|logs?|csv|files?|ids?))"
)
# Entries on a statement that a customer can fail to recognise.
_CHARGE = (
    r"(?:payments?|charges?|transactions?|transcations?|purchases?|debits?|direct debits?|"
    r"withdrawals?|withdrawls?|witdrawals?|fees?|entr(?:y|ies)|merchants?|deposits?)"
)
_BELONGINGS = (
    r"(?:card|cards|phone|mobile|cellphone|cell phone|smartphone|wallet|purse|handbag|bag|device)"
    # "the card PIN", "my phone number": the thing itself is not what is missing.
    r"(?!\s+(?:pin|number|details|code|settings|app|limit))"
)
_ARRIVED = (
    r"(?:show(?:n|ed|ing|s)?(?: up)?|appear\w*|arriv\w*|receiv\w*|reciev\w*|reflect\w*|"
    r"post(?:ed)?|credit\w*|c[ao]me(?: in| through)?|com(?:ing|es)(?: in| through)?|"
    r"gone through|go(?:ne)? through|went through|been (?:added|applied|processed|credited)|"
    r"updat\w*|there|here|in\s+(?:[\w']+\s+)?(?:account|wallet|balance)|in yet|in\s*(?:[.!?]|$)|"
    r"land\w*|clear\w*|visible|available|listed|"
    r"see (?:it|them)|reach\w*|get there|got there|complet\w*|process\w*|deposited|"
    r"made it|turned up|revert\w*|revers\w*|refund\w*|returned)"
)


@dataclass(frozen=True)
class SignalFamily:
    """One kind of situation: its name, the level it justifies and the words that show it."""

    name: str
    level: RiskLevel
    reason: str
    patterns: tuple[re.Pattern[str], ...]
    # Patterns that count only when none of ``unless`` matches: "lost my card" counts, but not in
    # "I found the card I thought I had lost". Strong words ("stolen") are never taken back.
    weak: tuple[re.Pattern[str], ...] = ()
    unless: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class SignalHit:
    """A family that matched, with the words that matched it (for the review card)."""

    family: str
    level: RiskLevel
    reason: str
    evidence: str

    def describe(self) -> str:
        """The line on the review card, e.g. ``unauthorised activity ("didn't make") -> high``."""
        return f'{self.reason} ("{self.evidence}") -> {self.level.value}'


def _family(
    name: str,
    level: RiskLevel,
    reason: str,
    *patterns: str,
    weak: tuple[str, ...] = (),
    unless: tuple[str, ...] = (),
) -> SignalFamily:
    def compiled(sources: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
        # Text is lower-cased once in ``_prepare``: three times faster than IGNORECASE.
        return tuple(re.compile(source) for source in sources)

    return SignalFamily(name, level, reason, compiled(patterns), compiled(weak), compiled(unless))


_UNAUTHORISED = _family(
    "unauthorised_activity",
    RiskLevel.HIGH,
    "unauthorised or unrecognised activity",
    # Words that say it outright.
    r"\b(?:un-?authori[sz]ed|fraud\w*|compromised|hack(?:ed|er|ers)|skimm(?:ed|er|ing)|"
    r"cloned|phishing|identity theft|suspicious|fishy|dodgy|breach\w*|disagree\w*)\b",
    # "I didn't make / authorise / withdraw ...", "I don't think I made this"
    rf"\b{_DENIAL}(?:make|made|authori[sz]e\w*|approve\w*|perform\w*|withdr[ae]w\w*|spend|"
    r"spent|buy|bought|purchase\w*|initiate\w*|set\s+up|sign(?:ed)?\s+up|agree\w*|consent\w*|"
    r"carr(?:y|ied) out)\b",
    # Everyday verbs deny a payment only next to one: "a payment I didn't do" (but not "I didn't
    # do anything and the app crashed", "I haven't completed the setup").
    rf"\b{_CHARGE}\b{_GAP}\b{_DENIAL}(?:take|took|do|did|done|create\w*|complete\w*|request\w*|"
    r"order\w*|pay|paid|cancel\w*)\b",
    rf"\b{_DENIAL}(?:take|took|do|did|done|create\w*|complete\w*|request\w*|order\w*|pay|paid|"
    rf"cancel\w*)\b{_GAP}\b{_CHARGE}\b",
    # "cash I didn't get", "a withdrawal I never made"
    rf"\b(?:{_MONEY}|{_CHARGE})\s+(?:that\s+|which\s+)?{_I}\s+{_NEG}\s+(?:get|got|receive\w*|"
    r"withdr\w*|make|made|take|took|spend|spent|do|did)\b",
    # "a payment I don't recognise", "not familiar with this charge", "don't recall"
    rf"\b(?:{_NEG}\s+(?:\w+\s+)?(?:recogni[sz]\w*|recongi[sz]e|"
    r"(?:recall|remember)\s+(?:\w+ing|this|that|these|those|any|such)\b)|"
    r"un-?recogni[sz]\w*|not recogni[sz]ed|not familiar|unfamiliar|no idea what|"
    r"never seen (?:it |this |that |them )?before|isn'?t is recognition)\b",
    # "a charge I don't recall" (but not "I can't remember my password")
    rf"\b{_CHARGE}\b{_GAP}\b{_NEG}\s+(?:\w+\s+)?(?:recall|remember)\b",
    rf"\b(?:unknown|strange|odd|weird|unexplained|mysterious|random|questionable|unusual|"
    rf"unexpected|unidentified)\s+(?:\w+\s+)?(?:{_CHARGE}|money|cash|funds)",
    # "I don't know what this charge is", "where did this payment come from"
    rf"\b(?:know nothing about|{_NEG}\s+(?:know|understand|get)\s+(?:anything\s+)?"
    rf"(?:about|what|where|why|who|if|whether)\b{_GAP}\b(?:this|that|these|those|the|a|an)\s+"
    rf"(?:\w+\s+)?{_CHARGE})",
    rf"\b(?:this|that|these|those|the|a)\s+(?!type|kind|sort)(?:\w+\s+)?{_CHARGE}\b{_GAP}"
    r"\b(?:c[ao]me|coming|is from|are from)\s+from\b|\bwhere\b"
    + _GAP
    + r"\b(?:c[ao]me|coming) from\b",
    rf"\bwhat(?:'s| is| are| was| were| does)?\s+(?:this|that|these|those)\s+(?:\w+\s+){{0,2}}"
    rf"{_CHARGE}\b",
    # "why is this payment on my app", "what is the cash withdrawal in my statement"
    rf"\b(?:why|what|who)\b{_GAP}\b{_CHARGE}\b{_GAP}\b(?:in|on|from|to)\s+(?:my|the)\s+"
    r"(?:statement|app|account|records|history|card|name)\b",
    rf"\b{_CHARGE}\b{_GAP}\b(?:is|was|looks|seems|that'?s|are|were)\s+(?:\w+\s+)?(?:strange|odd|"
    r"weird|off|not correct|incorrect|wrong|unusual|fishy|suspicious)\b",
    r"\b(?:supposed?|meant) to be there\b|\bin my name\b",
    # "wasn't me", "not mine", "not done by me", "I didn't!"
    r"\b(?:was(?:n'?t| not) me|not me|not mine|isn'?t mine|aren'?t\s+mine|are not mine|"
    r"wasn'?t mine|weren'?t mine|not by me|other than me|besides me)\b",
    r"(?:\bnot|n't)\s+(?:\w+\s+)?(?:done|made|performed|authori[sz]ed|carried out|initiated|"
    r"ordered|set up|created)\s+by me\b",
    rf"\b(?:{_CHARGE}|cash)\s+(?:\w+\s+)?(?:shows|showing|showed|appears|appearing|appeared|"
    r"listed)\s+"
    r"(?:up\s+)?(?:on|in)\s+(?:my|the)\s+(?:app|statement|account)\b",
    rf"\b{_CHARGE}\b{_GAP}\b(?:in|on)\s+my\s+(?:statement|app|records|history)\b[^\n]{{0,30}}"
    r"\b(?:why|what)\b",
    r"\b(?:card|account)\s+(?:to\s+)?be\s+(?:frozen|blocked|cancel+ed|locked)\b",
    r"\b(?:but|though|however,?|even though|yet|and)\s+(?:i|we)\s+(?:did(?:n'?t| not)|never did|"
    r"did not|have(?:n'?t| not))\b(?:\s+(?:it|that|this|so|any of it))?\s*(?:[.!?,;]|$)",
    r"(?:^|[.!?]\s*)(?:i|we)\s+(?:did(?:n'?t| not)|never did)\s*[.!?]",
    r"\bthat'?s (?:a|an) (?:mistake|error)\b",
    # Someone else at work on the customer's card or account.
    r"\b(?:some(?:one|body)(?: else)?|another person|a stranger|a thief|thieves"
    r")\s+(?:\w+\s+){0,2}(?:use[sd]?|using|made|make|took|taken|take|"
    r"withdr[ae]w\w*|cop(?:y|ied)|stole|stolen|spent|spend|access\w*|has|have|got|get|knows?|"
    r"found|bought|charged|hacked|logged|login|ordered|order)\b",
    r"\b(?:some(?:one|body)|people|they)\s+(?:are|is|has been|have been|were|was)\s+using\s+"
    r"(?:my|our)\b",
    rf"\b(?:is|are|was|were|isn'?t|aren'?t|wasn'?t)\s+not\s+(?:my|mine|our)\s+{_CHARGE}|"
    rf"\b(?:isn'?t|aren'?t|wasn'?t|weren'?t|not)\s+my\s+{_CHARGE}",
    r"\bwithout my (?:permission|knowledge|consent|authori[sz]ation|approval|say)\b",
    # Asking for the card to be frozen or blocked is what people do when they fear misuse.
    r"\b(?:freez\w*|block\w*|lock|suspend)\s+(?:my|the|this|our)\s+(?:\w+\s+)?"
    r"(?:card|cards|account)\b|\b(?:cancel|stop|cut off|deactivate)\s+(?:my|the|this|our)\s+"
    r"(?:\w+\s+)?(?:card|cards)\b|\b(?:a\s+)?freeze on (?:my|the) (?:card|account)\b",
)

_LOSS = _family(
    "loss_or_theft",
    RiskLevel.HIGH,
    "a card, phone or wallet is lost, stolen or kept by a machine",
    r"\b(?:stolen|stole|steal|theft|robbed|mugged|pick-?pocketed)\b",
    # An ATM that kept the card.
    rf"\b(?:swallow\w*|ate|eaten|eats?|retain\w*|trapped|confiscat\w*|stuck|sucked|jammed)\b"
    rf"{_GAP}\b(?:card|atm|machine)\b",
    rf"\b(?:atm|machine|cash ?point)\b{_GAP}\b(?:swallow\w*|ate|eaten|eats?|kept|keeps|took|"
    r"takes|taken|retain\w*|trapped|still has|sucked|won'?t (?:give|return)|"
    r"did(?:n'?t| not) (?:give|return))\b",
    r"\bkept my (?:card|cash|money)\b|"
    r"\b(?:get|got|getting|retrieve)\s+(?:my|the)\s+card\s+(?:back|out)\b|"
    r"\bretrieve (?:my|the) card\b",
    weak=(
        # "lost" on its own is too broad ("lost revenue"): it must be about a card, phone or
        # wallet, and a card that has been found again is no longer lost.
        rf"\b(?:lost|losing|lose|misplaced)\b{_GAP}\b{_BELONGINGS}\b|"
        rf"\b{_BELONGINGS}\b{_GAP}\b(?:lost|losing|misplaced)\b|"
        r"\b(?:i|we) (?:lost|misplaced) (?:it|them)\b|\b(?:gone|went) missing\b|\bleft behind\b",
        rf"\b(?:can'?t|cannot|can not|unable to|couldn'?t)\s+find\s+(?:my|the|our)\s+"
        rf"{_BELONGINGS}\b",
        rf"\b(?:my|the|our)\s+(?:\w+\s+)?{_BELONGINGS}\s+(?:is|was|has been|went|got|'s)\s+"
        r"(?:missing|gone|taken)\b",
        rf"\b(?:left|forgot|dropped)\s+(?:my|the)\s+(?:\w+\s+)?{_BELONGINGS}\s+"
        r"(?:at|in|on|behind|somewhere)\b",
        rf"\b(?:do(?:n'?t| not)|no longer)\s+have\s+(?:my|the)\s+(?:\w+\s+)?{_BELONGINGS}\b",
        rf"\b{_BELONGINGS}\s+(?:is|was)\s+gone\b|\b{_BELONGINGS}\s+fell\b|\bfell out\b",
    ),
    unless=(
        rf"\b(?:found|located|recovered)\s+(?:it|them|(?:my|the|that)\s+(?:\w+\s+)?"
        rf"{_BELONGINGS})\b",
        r"\bthought (?:i|it|that) (?:had |was |were |'d )?(?:lost|missing|gone)\b",
        r"\bno longer (?:lost|missing)\b|\bre-?activat\w*|\bre-?link\w*",
    ),
)

_MONEY_MISSING = _family(
    "money_missing",
    RiskLevel.HIGH,
    "money has not arrived, is late or has disappeared",
    # "my refund isn't showing up", "the cash I deposited is not in my account"
    rf"\b{_MONEY}\b{_GAP}\b(?:{_NEG}|nothing|still not|not yet)\s+(?:[\w,']+\s+){{0,3}}?"
    rf"(?:yet\s+)?{_ARRIVED}",
    # "why hasn't my transfer arrived", "hasn't my friend received the money"
    rf"\b(?:has|have|did|is|was|does|are)(?:n'?t| not)\s+(?:[\w']+\s+){{0,5}}?{_MONEY}\b"
    rf"{_GAP}\b{_ARRIVED}",
    r"\b(?:has|have|did|does|is|was)(?:n'?t| not)\s+(?:my|the|our)\s+(?:\w+\s+)?"
    r"(?:balance|account)\s+(?:been\s+)?(?:updat|reflect|chang|increas)",
    # "I haven't received the money", "we never got the refund", "I'm not seeing my deposit"
    rf"\b(?:{_NEG}|not|trouble)\s+(?:[\w']+\s+){{0,3}}?(?:rec(?:ei|ie|i)v\w*|got|get|gotten|see|"
    r"seen|seeing|find|found|finding)\s+(?:the\s+|my\s+|any\s+|our\s+|his\s+|her\s+|their\s+|that\s+|"
    rf"this\s+)?(?:\w+\s+)?{_MONEY}\b",
    # "I transferred money. I haven't seen anything on the account."
    rf"\b(?:transferred|transfered|deposited|sent|paid|payed|topped[- ]?up|added|{_MONEY})\b"
    rf"{_WIDE_GAP}"
    r"\b(?:nothing|no money|"
    rf"{_NEG}\s+(?:\w+\s+){{0,3}}?(?:see|seen|seeing|{_ARRIVED})|"
    r"(?:can'?t|cannot) (?:find|see)|still (?:not|pending|waiting)|trouble (?:seeing|finding)|"
    r"by now)",
    rf"\b(?:revert\w*|revers\w*|cancel+ed)\b{_GAP}\b{_MONEY}\b",
    rf"\b{_MONEY}\b{_GAP}\b(?:revert\w*|revers\w*)\b",
    rf"\b(?:waited|been waiting)\b{_GAP}\b{_MONEY}\b|\b{_MONEY}\b{_GAP}\b(?:waited|been waiting)\b",
    r"\bbut not on (?:the|their|his|her|my)\b",
    rf"\b(?:help me )?(?:find|locate|trace|track down)\s+(?:my|the|a)\s+(?:\w+\s+)?{_MONEY}\b",
    r"\b(?:can'?t|cannot|isn'?t|hasn'?t|didn'?t|doesn'?t|won'?t)\s+(?:the|my)\s+(?:friend|"
    r"recipient|recepient|person|landlord|seller|merchant|beneficiary|payee|retailer)\b"
    + _GAP
    + r"\b(?:see|seeing|rec(?:ei|ie|i)v\w*|get|got|arriv\w*)|\bcan'?t be seen by\b",
    # "my money is gone", "the funds disappeared", "my top-up was cancelled"
    rf"\b{_MONEY}\b{_GAP}\b(?:is|are|has|have|was|were|just|seems? to have|had|got|get)?\s*"
    r"(?:been\s+)?(?:gone|disappear\w*|vanish\w*|missing|went missing|taken out|lost|"
    r"deducted|pulled (?:back|out)|taken back|clawed back|revert\w*|revers\w*|"
    r"cancel+ed|returned|ain'?t there)\b",
    r"\b(?:missing|disappeared|vanished)\s+(?:\w+\s+)?(?:money|funds?|refund|deposit|"
    r"transfer|payment|top[- ]?up|cash)\b",
    rf"\bwhere(?:'s| is| are| did| has| have)\s+(?:all\s+)?(?:my|the|our|that|this)\s+"
    rf"(?:\w+\s+)?{_MONEY}\b",
    r"\b(?:lose|lost|steal|stole|took|take|do with|done with)\s+(?:all\s+)?(?:my|our)\s+"
    r"(?:money|funds|cash)\b",
    # "balance hasn't updated", "balance is the same", "account hasn't updated"
    r"\b(?:balance|account)\b" + _GAP + r"\b(?:the same|unchanged|not right|not (?:been )?"
    r"updat\w*|(?:hasn'?t|has not|didn'?t|did not|doesn'?t|does not|won'?t|isn'?t|is not|"
    r"wasn'?t|was not)\s+(?:\w+\s+)?(?:updat\w*|chang\w*|increas\w*|reflect\w*|show\w*))\b",
    r"\b(?:no|any)\s+change\s+(?:in|to)\s+(?:my|the)\s+balance\b",
    # The other side says it never arrived.
    r"\b(?:friend|friends|recipient\w*|recepient\w*|landlord\w*|seller|merchant|beneficiary|"
    r"payee|person|family|mother|father|brother|sister|son|daughter|he|she|they|retailer\w*)"
    r"\s+(?:\w+\s+)?(?:says?|said|saying|claims?|tells? me|told me|is saying)?"
    rf"{_SHORT_GAP}\b{_NEG}\s+(?:\w+\s+)?(?:receiv\w*|reciev\w*|got|get|gotten|see|seen|"
    r"arriv\w*|been paid)",
    rf"(?:^|\b(?:still|been|am|i'?m|are|we'?re|keep)\s+)(?:\w+\s+)?(?:waiting|wait|awaiting)\s+"
    r"(?:for|on)?\s*"
    rf"(?:my|the|a|an|our|this|that)?\s*(?:\w+\s+)?(?:{_MONEY}|completion)\b",
    # Late money: "why is my transfer taking so long", "a transaction to a friend delayed"
    rf"\b{_MONEY}\b{_GAP}\b(?:taking|taken|takes|take)\s+(?:so|too|such a|this|a)\s+"
    r"(?:long|while|lot of time)\b|\b"
    + _MONEY
    + r"\b"
    + _GAP
    + r"\b(?:delayed|held up|late|hold[- ]?up)\b",
    rf"\b{_MONEY}\b{_GAP}\b(?:too much time|too long|so long|forever|ages)\b|"
    rf"\b(?:too much time|too long|so long|forever|ages)\b{_GAP}\b{_MONEY}\b",
    r"\b(?:took|taken|deducted|debited|removed)\b"
    + _GAP
    + r"\bbut\b"
    + _GAP
    + r"\b(?:didn'?t|did not|never|no|not|don'?t)\b",
)

_WRONG_AMOUNT = _family(
    "wrong_amount",
    RiskLevel.HIGH,
    "a wrong amount, rate or recipient, or a duplicate charge",
    r"\b(?:charged|billed|debited|paid|taken)\s+(?:me\s+)?(?:\w+\s+)?(?:twice|two times|"
    r"double|multiple times|more than once|several times|three times|two different times|"
    r"many times|repeatedly)\b",
    r"\b(?:duplicat\w*|double|repeated|same)\s+(?:\w+\s+)?(?:charges?|payments?|"
    r"transactions?|debits?|withdrawals?|times)\b|\bduplicated\b",
    r"\b(?:show(?:s|n|ing)?(?: up)?|appear\w*|listed|posted|went through|go through)\s+"
    r"(?:\w+\s+)?(?:twice|two times|multiple times|more than once|several times|many times)\b",
    # Rates and amounts that are wrong.
    r"\b(?:wrong|incorrect|bad|poor|unfair|terrible|awful|inaccurate|mistaken|atrocious)\s+"
    r"(?:\w+\s+)?(?:exchange|conversion|currency)?\s*(?:rates?|exchange)\b",
    r"\b(?:rates?|exchange)\b[^.!?\n]{0,60}?\b(?:wrong|incorrect|inaccurate|mistake\w*|error\w*|"
    r"off|too high|so high|bad|unfair|rip\w*[- ]?off|messes|messed|atrocious|awful|terrible|"
    r"horrible|ridiculous|outrageous|extortionate|robbery|applied correctly|correct\?|"
    r"(?:is|was|were|are)(?:n'?t| not) (?:\w+\s+)?(?:right|correct|accurate|fair|what)|"
    r"(?:does|did)(?:n'?t| not) (?:look|seem) (?:right|correct))\b",
    rf"\b{_NEG}\s+(?:\w+\s+){{0,3}}(?:the\s+)?(?:right|correct|proper|accurate)\s+"
    r"(?:exchange\s+)?(?:rate|amount|sum)\b",
    r"\b(?:is|was|are|were)(?:n'?t| not)\s+(?:\w+\s+){0,4}(?:rate|exchange)\s+(?:\w+\s+)?"
    r"(?:correct|right|accurate|fair)\b",
    r"\b(?:correct|right|proper|accurate|fair)\s+(?:exchange\s+)?rate\s+"
    r"(?:was|is|were)(?:n'?t| not)\b",
    r"\b(?:check|verify|see if|whether|unsure|not sure|confirm)\b" + _GAP + r"\b(?:exchange\s+)?"
    r"rates?\b(?!\s+(?:will|would)\b)",
    r"\bwhy\b" + _GAP + r"\bmy\s+(?:\w+\s+)?(?:exchange\s+)?rate\b|"
    r"\bdifferent (?:exchange\s+)?rates?\b|"
    r"\b(?:it|this|that)(?:'s| is| was| seems| looks) (?:wrong|incorrect|not right|a mistake)\b|"
    r"\brip\w*\s+(?:\w+\s+)?off\b|\bmess\w*\s+up\b|\bin error\b|"
    r"\b(?:sent|paid|payed|transferred|charged|debited|deposited|taken)\b"
    + _SHORT_GAP
    + r"\bby (?:mistake|error|accident)\b",
    r"\bwhat(?:'s| is)?\s+(?:\w+\s+){0,2}(?:up|wrong|going on)\s+with\s+(?:my|the|this)\s+"
    r"(?:\w+\s+)?(?:rate|exchange|amount|payment|charge|transaction|withdrawal|cash|statement|"
    r"balance)\b",
    r"\bnot the (?:\w+\s+)?amount\b|\bamount\b" + _GAP + r"\bdifferent\b|"
    r"\b(?:higher|larger|bigger|different) amount\b",
    r"\bwrong with\s+(?:my|the|this)\s+(?:\w+\s+)?(?:exchange|rate|amount|cash|withdrawal|"
    r"statement|balance|transaction|payment|transfer)\b",
    r"\b(?:wrong|incorrect|less|partial|short|insufficient|different)\s+"
    r"(?:\w+\s+)?(?:amount|sum|cash|money|change|total|value)\b",
    r"\b(?:more|less|higher|lower|larger|smaller|bigger|fewer)\b(?:\s+(?!cards?\b)\w+){0,4}\s+"
    r"(?:than|then)\s+(?:what\s+)?(?:i|we|the amount|expected|requested|asked|it should|was|"
    r"were)\b",
    r"\b(?:does(?:n'?t| not)|did(?:n'?t| not)|not)\s+(?:\w+\s+)?(?:match|correspond|add up|"
    r"tally)\b|\bdifferent (?:than|from|then)\b|\bnot what (?:it|they|i|we) (?:should|expected)",
    r"\b(?:did(?:n'?t| not)|did (?:i|we) not|never|only|just|wasn'?t able to|was not able to|"
    r"was not|wasn'?t)\s+(?:\w+\s+)?"
    r"(?:get|got|receive[ds]?|revieve|gave|give|dispens\w*|came out|distributed)\s+(?:me\s+)?"
    r"(?:the\s+)?(?:all|full|right|correct|enough|whole|entire|part|half|some|what i|"
    r"how much|that amount|the amount)\b",
    r"\b(?:atm|machine|cash ?point)\b" + _GAP + r"\b(?:only|less|partial|short|not all|"
    r"more|did(?:n'?t| not) (?:give|dispense))\b",
    r"\bonly\s+(?:gave|got|get|receive[ds]?|dispensed|gives|came out with|[$€£]?\d)|"
    r"\b(?:got|received|gave me|came out)\s+only\b|\bonly\s+\w+\s+came out\b",
    r"\b(?:all|only)\s+(?:it|the atm|the machine)\s+gave\b|\b(?:so|too) (?:little|few)\b",
    r"\bover-?charg\w*\b|\bshort(?:ed|changed)\b|\b(?:was|is|came up) short\b|"
    r"\b(?:expect\w*|thought)\b" + _GAP + r"\b(?:more|higher|less)\b",
    r"\bcharged\s+(?:me\s+)?(?:too much|more)\b|"
    r"\b(?:paid|pay|charged|fees?|costs?|rates?|prices?)\b" + _SHORT_GAP + r"\btoo (?:much|high)\b",
    r"\b(?:do(?:n'?t| not)) think\b" + _GAP + r"\b(?:right|correct|accurate|fair)\b",
    # A mistake in where the money went.
    r"\b(?:wrong|incorrect|mistaken|invalid)\s+(?:\w+\s+)?(?:account|recipient|person|"
    r"beneficiary|payee|iban|details|number|transactions?|transfers?|payments?)\b",
    r"\b(?:mistake|error|typo|accident\w*)\b" + _GAP + r"\b(?:account|transfer|payment|"
    r"transaction|amount|sent|sending|statement|charge|rate|information|details|deposit|cheque|"
    r"check)\b|\b(?:deposit|cheque|check|transfer|payment|sent|paid)\w*\b"
    + _GAP
    + r"\baccident\w*",
    r"\b(?:transfer|payment|transaction|charge|statement|sent|sending)s?\b"
    + _GAP
    + r"\b(?:mistake|typo|incorrect|wrong)\b",
    r"\b(?:did(?:n'?t| not)) (?:mean|intend) to\b",
)

_CONTESTED_FEE = _family(
    "contested_fee",
    RiskLevel.HIGH,
    "contests a fee or charge already taken",
    # "an extra fee on my statement" (not "is there an extra fee for ...?", which only asks)
    # The sentence's leading blanks are taken possessively and never a new line (a new line is
    # itself a sentence start): with ``\s*`` here every blank line multiplied the work (cubic).
    r"(?:^|[.!?\n])[^\S\n]*+(?!(?:is|are) there\b|are\b|will\b|would\b|do\b|does\b|can\b|could\b|"
    r"how much\b|[\w\s]{0,30}\b(?:any|have)\s+extra\b|"
    r"[^.!?\n]*\b(?:is|are) there\s+(?:an?\s+|any\s+)?(?:extra|additional|added)\b)"
    r"[^.!?\n]*?\b(?:extra|additional|added|strange|unexpected|hidden|surprise|unknown|random|odd|weird|new|mystery|unfair|wrong|incorrect|bogus)\s+"
    r"(?:\w+\s+)?(?:fees?|charges?|debits?|pounds?|dollars?|euros?|[$€£]\s?\d)",
    rf"\b(?:fee|fees|charge|charges)\b{_GAP}\b(?:on|in)\s+(?:my|the|our)\s+(?:\w+\s+)?"
    r"(?:statement|account|app|bill|receipt|history)\b",
    rf"\b(?:{_I}|me|you|they)\s+(?:\w+\s+)?(?:was|were|been|got|getting|being|am)"
    r"\s+(?:\w+\s+)?(?:charg\w*|billed)\b",
    r"\b(?:charged|billed)\s+(?:me|us)\b|\b(?:made|had|forced) to pay\b|"
    r"\bdid (?:you|they|it) charge\b",
    r"\b(?:charged|debited|taken)\s+(?:from|to|on|off)\s+(?:my|the)\s+(?:account|card)\b",
    r"\bwhy\b" + _GAP + r"\b(?:charged|billed|a fee|fees|extra)\b",
    r"\b(?:should(?:n'?t| not)|not supposed to|wasn'?t supposed to|never)\s+(?:\w+\s+)?"
    r"(?:have\s+)?(?:be(?:en)?\s+)?(?:charg\w*|billed|pay|paid|made|taken)\b",
    r"\b(?:price|amount|total|cost)\s+(?:\w+\s+)?(?:was|is|seems|looks)\s+(?:\w+\s+)?"
    r"(?:higher|more|wrong|incorrect|different)\b",
    r"(?:[$€£]\s?\d+(?:\.\d+)?|\b\d+(?:\.\d+)?\s?(?:[$€£]|l\b|pounds?|dollars?|euros?)|"
    r"\b(?:one|a) (?:pound|dollar|euro))\s+(?:\w+\s+)?(?:charge|fee|transaction|debit)\b",
    r"\b(?:charge|fee) of (?:[$€£]?\d|one|a)\b",
)

_STOP_MONEY = _family(
    "stop_or_reverse_money",
    RiskLevel.HIGH,
    "asks for money back, or to stop, cancel or reverse a payment",
    r"\b(?:cancel\w*|revers\w*|revert\w*|stop|stopp\w*|recall\w*|undo|void|retract|take back|"
    r"pull back|call back|claw back)\s+(?:a|an|my|the|this|that|last|recent|"
    r"our|these|those|it)?\s*(?:\w+\s+){0,2}(?:" + _MONEY + r"|purchases?|orders?|"
    r"direct debits?|standing orders?|debit)\b",
    r"\b(?:transfer|transaction|payment|purchase|direct debit|standing order|order)s?\b"
    + _GAP
    + r"\b(?:cancel\w*|revers\w*|revert\w*|undone|stopped|recalled)\b",
    r"\b(?:change|amend|modify|edit|correct)\s+(?:a|an|my|the|this|that)\s+(?:\w+\s+)?"
    r"(?:transfers?|transactions?|payments?)\b",
    r"\b(?:money back|back my money|get (?:it|them|the money|the funds) back|"
    r"return (?:the|my) (?:money|funds)|put (?:the money|the funds|my money) back)\b",
    r"\breturn\w*\s+(?:an?|the|my|this|these|some|an)\s+(?:\w+\s+)?(?:items?|purchases?|"
    r"orders?|products?|goods)\b|\breturned (?:an?|the|my) \w+",
    r"\b(?:raise|open|file|make|start)\s+(?:a\s+)?(?:dispute|claim|complaint)\b",
    r"\b(?:faulty|defective|damaged|broken)\s+(?:\w+\s+)?(?:item|product|goods|purchase|order)|"
    r"\b(?:item|product|goods|purchase|order)\s+(?:was|is|arrived|came)\s+(?:\w+\s+)?"
    r"(?:faulty|defective|damaged|broken)\b|\b(?:return|refund)s?\s+polic\w*",
    r"\bdisput\w*\b",
)

_ACCOUNT_CHANGE = _family(
    "account_change",
    RiskLevel.MEDIUM,
    "closes the account or changes personal details",
    r"\b(?:close|closing|delete|deleting|terminat\w*|cancel\w*|discontinue|disable|deactivate|"
    r"inactivate|invalidate|shut|remove|end|quit|get rid of|finish\w*(?: up)? with)\s+"
    r"(?:down\s+|out\s+)?(?:all\s+of\s+)?(?:my|the|our|this|an|a)\s+(?:\w+\s+)?account\b",
    r"\baccount\b" + _GAP + r"\b(?:closed|deleted|terminated|closure|deactivat\w*|removed|"
    r"go away)\b",
    r"\b(?:do(?:n'?t| not)|no longer)\s+(?:want|need)\s+(?:this|my|the|an|a)\s+account\b|"
    r"\bno longer (?:want|wish) to be a customer\b",
    r"\b(?:change|changing|changed|changes|update|updating|edit|editing|correct|amend|modify|"
    r"modified|alter)\b" + _SHORT_GAP + r"\b(?:personal|address|adress|name|surname|details|data|"
    r"demographics|information|info|phone number|mobile number|e-?mail)\b",
    r"\b(?:address|adress|name|surname|details|phone number|email)\b"
    + _SHORT_GAP
    + r"\b(?:changed|wrong|incorrect|modified|updated|needs? to (?:be )?(?:changed|updated)|"
    r"out of date|outdated)\b",
    r"\bnew (?:home\s+)?(?:address|adress|surname|last name|phone number|e-?mail address)\b|"
    rf"\b{_I}\s+(?:just\s+|recently\s+)?(?:got married|changed (?:my|our) (?:name|address))\b|"
    r"\bmoved (?:house|home|flats?|apartments?|abroad|countr\w+|cit\w+|address)\b|"
    r"\bmoved to a new (?:house|home|flat|apartment|address|country|city|place)\b|"
    rf"\b(?:since|now that|after|as|because)\s+{_I}\s+(?:just\s+|recently\s+)?"
    r"(?:moved|relocated)\b|"
    r"\b(?:married|maiden|spouse'?s?) name\b|\bwedding\b",
)

_MONEY_STUCK = _family(
    "money_stuck",
    RiskLevel.MEDIUM,
    "a payment, transfer or card is pending, declined, failing or not allowed",
    rf"\b(?:{_MONEY}|charges?)\b{_GAP}\b(?:pending|declin\w*|reject\w*|fail\w*|denied|bounc\w*|"
    r"revert\w*|"
    r"refused|blocked|stuck|on hold|held|frozen|not allowed|not possible|disallowed|error\w*|"
    r"not going through|(?:did(?:n'?t| not)|won'?t|will not|doesn'?t|does not|isn'?t|is not|"
    r"hasn'?t|has not|never|wouldn'?t|can'?t|cannot|not|wasn'?t|was not)\s+(?:\w+\s+){0,2}"
    r"(?:go(?:ne|ing)? through|work\w*|complet\w*|process\w*|clear\w*|succeed\w*|go|allow\w*|"
    r"accept\w*|approv\w*))\b",
    r"\b(?:pending|declined|rejected|failed|reverted|denied|bounced|refused)\s+(?:\w+\s+)?"
    rf"{_MONEY}\b",
    r"\b(?:card|payment|contactless)\b" + _GAP + r"\b(?:declin\w*|reject\w*|refused|denied|"
    r"broken|broke|(?:is|isn'?t|not|won'?t|doesn'?t|does not|didn'?t|did not|stopped)\s+"
    r"(?:\w+\s+)?work\w*)\b",
    # The customer cannot move their own money.
    r"\b(?:can'?t|cannot|can not|unable to|couldn'?t|could not|not able to|not allowed to|"
    r"won'?t (?:let|allow) me(?: to)?|isn'?t (?:letting|allowing) me(?: to)?|keeps? failing to)\s+"
    r"(?:\w+\s+)?(?:transfer|send|pay|purchase|buy|withdraw|top[- ]?up|make (?:a|any) "
    r"(?:payment|transfer|transaction)s?|use (?:my|the) (?:card|money|funds|balance|top[- ]?up)|"
    r"get (?:my|the) card to work)\b",
    r"\berror messages?\b|\bkeeps? (?:getting )?(?:failing|declin\w*|rejected)\b",
)

_OWN_TRANSACTION = _family(
    "own_transaction",
    RiskLevel.MEDIUM,
    "asks about one of their own payments (needs their account checked)",
    # "when will my deposit be processed", "what is the status of my top-up"
    rf"\b(?:when|why|where|status of|what happened to|what'?s happening with|how long|how soon|"
    rf"update on)\b{_GAP}\b(?:my|our)\s+(?:\w+\s+)?{_MONEY}\b",
    # "the cash I deposited", "the transfer I made", "a transaction I did"
    rf"\b(?:the|a|an|my|this|that) (?:\w+ )?{_MONEY} (?:that |which )?(?:i|we) "
    r"(?:just |recently |already )?(?:made|did|sent|deposited|transferred|paid|did|"
    r"requested|added|initiated|completed|put|asked|tried)\b",
    # An action of theirs with a time: "I made a transfer from France two days ago"
    rf"\b(?:made|did|done|sent|deposited|transferred|transfered|paid|payed|topped[- ]?up|"
    rf"completed|put)\b{_GAP}\b(?:(?:\w+|a couple of|a few|several) (?:hours?|days?|weeks?) "
    r"ago|yesterday|this morning|last (?:week|night)|earlier|a while back|just now)\b",
)

# Urgency alone is no danger ("I need my card ASAP"); about money it is ("my friend needs the
# money urgently"), and next to another signal it makes that one more pressing, so the level
# goes one step up (see ``find_signals`` and ``combined_level``).
_URGENCY = _family(
    "urgency",
    RiskLevel.LOW,
    "urgent (raises any other signal one step)",
    r"\b(?:urgent\w*|emergency|immediate(?:ly)?|asap|right (?:now|away)|straight away|"
    r"at once|desperate\w*|help me now|help now|quickly)\b",
    r"\bhelp\s*(?:me\s*)?(?:please\s*)?!",
    r"\bplease help\b|\bhelp me please\b",
)

# Most severe first, so the reasons on a card start with what matters most.
FAMILIES: tuple[SignalFamily, ...] = (
    _UNAUTHORISED,
    _LOSS,
    _MONEY_MISSING,
    _WRONG_AMOUNT,
    _CONTESTED_FEE,
    _STOP_MONEY,
    _ACCOUNT_CHANGE,
    _MONEY_STUCK,
    _OWN_TRANSACTION,
    _URGENCY,
)


# A run of blanks: one new line if it holds a line break, else one space.
_BLANKS = re.compile(r"\s+")


def _blank(run: re.Match[str]) -> str:
    return "\n" if any(ch in _LINE_BREAKS for ch in run.group(0)) else " "


_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _prepare(text: str) -> str:
    r"""Lower case; curly apostrophes and backticks read as straight ones; every run of blanks
    as one character (a new line if the run breaks the line, else a space).

    The last part is what keeps the families linear: after it no two blanks are adjacent, so
    quantifiers such as ``\s+(?:\w+\s+)?\s*`` have one way to split a gap instead of one per
    character of a 20,000-newline run (which took minutes).
    """
    for quote in ("\u2019", "\u2018", "`", "\u00b4"):
        text = text.replace(quote, "'")
    return _BLANKS.sub(_blank, text).strip().lower()


URGENCY = _URGENCY.name
_MONEY_WORD = re.compile(rf"\b{_MONEY}\b")


def find_signals(text: str) -> list[SignalHit]:
    """Every family that matches ``text`` (already NFKC-folded), most severe first, each once."""
    prepared = _prepare(text[:SCAN_LIMIT])
    hits: list[SignalHit] = []
    for family in FAMILIES:
        patterns = family.patterns
        if family.weak and not any(pattern.search(prepared) for pattern in family.unless):
            patterns = patterns + family.weak
        for pattern in patterns:
            found = pattern.search(prepared)
            if found:
                evidence = " ".join(found.group(0).split())[:_EVIDENCE_MAX]
                hits.append(_hit(family, evidence, prepared))
                break
    if len(text) > SCAN_LIMIT:
        hits.append(_TOO_LONG)
    return hits


_TOO_LONG = SignalHit(
    "too_long",
    RiskLevel.MEDIUM,
    f"too long to check in full (first {SCAN_LIMIT:,} characters read)",
    f"{SCAN_LIMIT:,}+ characters",
)


def _hit(family: SignalFamily, evidence: str, text: str) -> SignalHit:
    if family is _URGENCY and _MONEY_WORD.search(text):
        return SignalHit(family.name, RiskLevel.MEDIUM, "urgent, with money at stake", evidence)
    return SignalHit(family.name, family.level, family.reason, evidence)


def combined_level(hits: list[SignalHit]) -> RiskLevel:
    """The level the signals justify together: the highest one, one step higher when the
    customer also says it is urgent (never above high: critical is for legal matters)."""
    others = [hit.level for hit in hits if hit.family != URGENCY]
    urgent = [hit.level for hit in hits if hit.family == URGENCY]
    level = max([RiskLevel.LOW, *others, *urgent], key=lambda each: each.rank)
    if others and urgent and level.rank < RiskLevel.HIGH.rank:
        return _ONE_STEP_UP[level]
    return level


_ONE_STEP_UP = {RiskLevel.LOW: RiskLevel.MEDIUM, RiskLevel.MEDIUM: RiskLevel.HIGH}
