"""The embedded classifier's allow-list: what it may answer without a human.

A keyword classifier cannot know everything that is dangerous; it can know what is harmless. So
instead of looking for danger and acting on the rest, it acts only on a ticket it positively
recognises as a request for information, with nothing in it that touches the customer's money,
account or belongings, and sends everything else to a human with its best guess.

A ticket is informational when all of these hold:

* its category is one the templates answer with information (a question, billing or delivery
  information, signing in, a plan, feedback), not a refund, a cancellation or legal matter;
* it asks: a question mark, or a sentence that opens like a question ("how do I", "can you",
  "I'd like to know"); or it names a self-service topic the templates answer (password, invoice);
* no risk signal of ``bot.assess.risk_signals`` fired (not even urgency);
* it says nothing of money moving or of its own transactions, of something lost, taken, wrong,
  failed or disputed, or of changing or closing the account (``_DANGER`` below: general words,
  not phrases from any particular message), and states no amount;
* it points at no particular payment of theirs ("this transfer", "that charge"), does nothing to
  the account but what is known to leave it as it is ("top up my account" is kept; "end", "wind
  up", any other verb before "my account" is not), and when it names a money operation (a
  top-up, a transfer) it also says what about it is asked: "Do you support top ups?" may open a
  complaint about a top-up that went wrong, so a human decides.

Every pattern is linear-time: fixed words, optional apostrophes and bounded gaps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.assess.amounts import AmountReading
from bot.assess.heuristic_rules import Category
from bot.assess.risk_signals import SignalHit

__all__ = ["INFORMATIONAL_CATEGORIES", "Recognition", "recognise"]

# Categories whose template answers with information and promises nothing.
INFORMATIONAL_CATEGORIES = frozenset(
    {
        "general_question",
        "billing_question",
        "shipping",
        "password_reset",
        "plan_change",
        "feedback",
    }
)
# Categories whose keyword alone says what is asked (a self-service topic), question or not.
_SELF_SERVICE = frozenset({"password_reset", "billing_question", "feedback"})

# A sentence start: blanks after it are taken possessively and never a new line (a new line is
# itself a start), so a run of blank lines is read once, not once per line (that was quadratic).
_Q = r"(?:^|[.!?\n][^\S\n]*+|\b(?:hi|hello|hey|please|so|and|but|also)[,!]?\s++)"
_ASKS = re.compile(
    _Q + r"(?:how|what|when|where|which|who|whom|whose|why|can|could|do|does|did|is|are|was|"
    r"will|would|should|shall|may|might|must|am|have|has|any|tell me|explain|show me|help me|"
    r"i(?:'d| would) like to know|i want to know|i need to know|i(?:'m| am) wondering|"
    r"i was wondering|wondering|is it possible|is there|are there|what's|how's|where's|"
    r"i (?:want|wanna|would like|'d like|need|wish)|looking for|interested in)\b",
    re.IGNORECASE,
)

# The customer's own money, account or belongings in trouble, moving or changing.
_DANGER = re.compile(
    r"\b(?:refund\w*|reimburs\w*|money back|chargeback\w*|disput\w*|compensat\w*|"
    r"charged|charging|overcharg\w*|twice|double|duplicate\w*|extra|"
    r"stolen|steal\w*|stole|theft|thief|thieves|lost|lose|losing|missing|misplaced|"
    r"hack\w*|fraud\w*|scam\w*|compromis\w*|un-?authori[sz]\w*|suspicious|someone|somebody|"
    r"stranger|without my|not me|wasn'?t me|mugg\w*|robbed|robbery|pickpocket\w*|burglar\w*|"
    # Getting something of theirs back: a card a machine kept, goods or money returned.
    r"return(?:s|ed|ing)?|retriev\w*|recover\w*|swallow\w*|trapped|back|"
    # No longer wanting what they have: leaving, or a switch.
    r"quit\w*|no longer|any ?more|switch\w*|swap\w*|"
    r"cancel\w*|clos(?:e|ed|ing)|delet\w*|terminat\w*|revert\w*|revers\w*|undo|stop\w*|"
    r"block\w*|freez\w*|frozen|lock(?:ed)?|suspend\w*|"
    r"wrong\w*|incorrect\w*|mistake\w*|error\w*|problem\w*|issues?|fail\w*|declin\w*|"
    r"reject\w*|denied|refus\w*|pending|stuck|broken|glitch\w*|fix\w*|"
    r"not (?:correct|right|accurate|mine|ours)|asap|urgent\w*|"
    r"not work\w*|do(?:es)?n'?t work|did(?:n'?t| not) work|won'?t work|"
    r"didn'?t|did not|haven'?t|have not|hasn'?t|has not|hadn'?t|never|still|yet|"
    r"recogni[sz]\w*|unknown|strange|weird|odd|bad|poor|terrible|awful|"
    r"married|wedd\w*|divorc\w*|surname|maiden|moved|moving|new address|my address|my name|"
    r"my details|my personal|my e-?mail|my phone|chang\w*)\b"
    # Something that took or kept their card.
    # What they expected and did not get.
    r"|\b(?:i|we)\s+(?:thought|assumed|expected|was expecting|were expecting)\b"
    # Something of theirs to be updated.
    r"|\b(?:update|edit|amend|modify|alter|correct)\s+(?:my|our)\s+(?!pin|passcode|password)"
    r"|\b(?:keeps?|kept|took|takes?|taken|ate|eaten|swallow\w*|retain\w*)\s+(?:my|the|our)\s+"
    r"(?:\w+\s+)?cards?\b"
    r"|\b(?:atms?|machines?)\b[^.!?\n]{0,30}?\b(?:kept|took|taken|ate|eats|eaten|held|"
    r"won'?t give)\b"
    # Their own transactions: "my transfer", "my payment", "the money I sent".
    r"|\b(?:my|our)\s+(?:\w+\s+)?(?:transfers?|payments?|transactions?|deposits?|withdrawals?|"
    r"cheques?|checks?|purchases?|charges?|money|funds|cash|balance|salary|statement|wires?|"
    r"remittances?)\b"
    # A question about what became of something of theirs: "has my top-up gone through?".
    r"|\b(?:has|did|was|were)(?:n'?t)?\s+(?:my|our)\b"
    r"|\b(?:i|we)\s+(?:just\s+|recently\s+|already\s+)?(?:sent|paid|payed|transferred|"
    r"deposited|withdrew|bought|purchased|ordered|received|got|made|tried)\b",
    re.IGNORECASE,
)

# Questions a template cannot answer safely because the answer depends on the customer's own
# account: when money will move (they may be waiting for money that went astray), whether a rate
# or amount applied was right, where their own card or item is, why they cannot get in; and a
# customer who says they are worried.
_NEEDS_ACCOUNT = re.compile(
    r"\b(?:how long|how soon|how many (?:days|hours|weeks)|how much time|amount of time|"
    r"when|time ?frame|what time)\b[^.!?\n]{0,60}?\b(?:transfer\w*|transaction\w*|cheques?|"
    r"checks?|deposit\w*|money|funds|payments?|balance|top[- ]?ups?|topp?ing up|withdraw\w*|"
    r"refund\w*|post|clear|reflect\w*|show up|go through|arriv\w*|receiv\w*)\b"
    r"|\b(?:correct|accurate|accuracy|right|proper|fair|real|actual)\b[^.!?\n]{0,30}?\b(?:rates?|"
    r"amounts?|fees?|charges?|prices?|exchange)\b"
    r"|\b(?:exchange rates?|rates?|currency|currencies)\b[^.!?\n]{0,50}?\b(?:cash|atm|atms|"
    r"withdraw\w*|machine)\b|\b(?:cash|atm|atms|withdraw\w*)\b[^.!?\n]{0,50}?\b(?:exchange "
    r"rates?|rates?|currency)\b"
    r"|\b(?:status|whereabouts|locat\w*|track\w*)\b"
    # Who did something with what is theirs: someone else did.
    r"|\bwho\b[^.!?\n]{0,40}?\b(?:my|our|me|us)\b"
    # Where their money went: "where did the transfer go", "where is the money I sent".
    r"|\bwhere\s+(?:did|has|have|had|was|were)\b[^.!?\n]{0,40}?\b(?:money|funds|transfers?|"
    r"payments?|deposits?|top[- ]?ups?|refunds?|cash)\b"
    r"|\bwhere(?:'s|\s+is|\s+are)\s+(?:my|our|the)\s+(?:money|funds|cash|transfers?|payments?|"
    r"deposits?|refunds?)\b(?!\s+(?:codes?|options?|limits?))"
    r"|\b(?:worr\w*|concern\w*|afraid|scared|panic\w*|nervous|anxious|upset)\b"
    # Something they cannot do is a problem, not a question ("Can I ...?" is a question); not
    # signing in is the password template's own topic.
    r"|\b(?:(?:can'?t|cannot|can not|unable(?: to)?|couldn'?t|could not|not able(?: to)?)"
    r"(?!\s+(?:log|sign)\s?(?:in|on)\b)|don'?t have|do not have|no longer have|"
    r"without (?:a|an|my|the|any|access))\b"
    # "Why ...?" and "how come" ask about something that happened; "why do I need to ..." asks
    # about a rule and stays a question.
    r"|\bhow come\b|\bwhy\b(?!\s+(?:do|would|should|must|does)\s+(?:i|we|you|one|they)\s+"
    r"(?:\w+\s+)?(?:need|have|require|want|ask|verify|check)\w*)"
    r"|\bwhat(?:'s| is| was)?\s+(?:the\s+)?(?:matter|happen\w*|going on)\b|\bhappened\b"
    # Amounts compared: too much, more than, two charges.
    r"|\b(?:too|so|such a|very|much too)\s+(?:many|much|high|big|large|low|little|expensive)\b"
    r"|\b(?:more|less|higher|lower|bigger|smaller) than\b|\b(?:two|2|multiple|several|many)\s+"
    r"(?:\w+\s+)?(?:charges?|transactions?|payments?|debits?|withdrawals?|entries)\b"
    # Their own card or account, and what they did with it.
    r"|\b(?:on|in|from) (?:my|our) (?:\w+\s+)?(?:card|account|statement|app)\b"
    r"|\b(?:find|locate|trace) (?:my|our)\b|\b(?:not |un)successful\w*"
    r"|\b(?:i|we)\s+(?:have\s+|had\s+|just\s+|recently\s+|already\s+)?"
    r"(?!(?:wanted|needed|wondered|hoped|liked|decided|planned|wished)\b)"
    r"(?:[a-z]{3,}ed|did|made|took|got|went|sent|paid|bought|gave|saw|put|kept|froze|spent|"
    r"withdrew|lost|left)\b",
    re.IGNORECASE,
)
# Cash or an ATM with an exchange rate or currency: a withdrawal abroad and what it cost.
_CASH = re.compile(r"\b(?:cash|atms?|withdraw\w*|cash ?machines?|money machines?)\b", re.I)
_RATE = re.compile(r"\b(?:exchange|rates?|curr\w*|fees?|charges?)\b", re.I)
# How long money takes to move: the customer may be waiting for money that went astray.
_TIMING = re.compile(
    r"\b(?:how long|how soon|how quickly|how fast|how many (?:days|hours|weeks)|how much time|"
    r"amount of time|length|duration|processing time|time ?frame|take to|completion|"
    r"time (?:for|to|it takes)|what time|"
    r"when will|when does|when do|when can|when is)\b",
    re.I,
)
_MOVING = re.compile(
    r"\b(?:transfer\w*|transaction\w*|cheques?|checks?|deposit\w*|money|funds|payments?|"
    r"top[- ]?ups?|topp?ing up|withdraw\w*|refund\w*|send\w*|sent|wire\w*)\b",
    re.I,
)


def _words(spaced: str) -> frozenset[str]:
    """A set of words written as one string: the lists below read as prose, not one per line."""
    return frozenset(spaced.split())


# "This transfer", "that charge", "these fees": a pointer at one particular payment of theirs,
# which a template cannot know; a general question says "a transfer" or "transfers".
_POINTED = re.compile(
    r"\b(?:this|that|these|those)\s+(?:(?!(?:i|we|you|they|it|can|will)\b)\w+\s+){0,2}(?:transfers?|payments?|transactions?|charges?|"
    r"debits?|deposits?|withdrawals?|top[- ]?ups?|refunds?|fees?|rates?)\b",
    re.IGNORECASE,
)
# A word right before "(my|this|the ...) account": the account is a place ("to my account"), the
# subject of a question ("can my account"), or the object of what the customer wants done to it.
# Only the words below are known to leave it as it is; any other verb ("end", "disable",
# "discontinue" ...) may change or close it, whatever synonym the customer picks.
_ACCOUNT_AFTER = re.compile(
    r"\b(?:([a-z'-]{1,24})\s+)?([a-z'-]{1,24})\s+(?:(?:my|our|his|her|their|its|this|that|the|an?|your|current|existing|new|own)\s+){1,2}"
    r"accounts?\b",
    re.IGNORECASE,
)
_ACCOUNT_KEPT = _words(
    "to into in on onto from for of off at via through within inside about and or "
    "can could does do did is will would should what which how where "
    "open opening opened create creating get getting have having has hold holds use using "
    "fund funding top-up topping add adding load loading reach reaches access accessing "
    "verify verifying link linking start starting make making"
)
# A particle ("up", "off") keeps the account only after a verb known to leave it as it is: "top
# up my account" adds money, "set up an account" opens one; "wind up" or "sign off" is unknown.
_PARTICLE_KEPT = {
    "up": _words("top topping set setting open opening fill filling"),
    "off": _words("top topping"),
}
# Things money does. A question that names one of them must also say what about it is asked: a
# how, which or where, or a word that names a topic (a fee, a limit, a card, a country). "Do you
# support top ups?" could be a question about the service or the opening of a complaint about a
# top-up that went wrong; only the customer's own account can tell, so a human decides.
_OPERATIONS = _words(
    "top up ups topup topups topping topped transfer transfers transferring payment payments pay "
    "deposit deposits withdrawal withdrawals withdraw debit debits transaction transactions "
    "refund refunds exchange exchanges money funds"
)
_VAGUE = _words(
    "support supports supported offer offers offered allow allows allowed accept accepts "
    "accepted provide provides have has get use make doing done possible able option options "
    "service services available ok okay want need like know tell ask question"
)
_ASPECT = re.compile(r"\b(?:how|which|where|what)\b", re.IGNORECASE)

# Words that name nothing: a question needs at least two words outside these to be recognised.
_FILLER = _words(
    "a an the is are was were be been am do does did can could will would should shall may might "
    "must i me my we our you your it its this that these those what which who whom how when where "
    "why there here of to in on at for with by from about as and or but if so not no yes please "
    "thanks thank hi hello hey any some word matter thing things help"
)
_WORD = re.compile(r"[a-z']{2,24}", re.IGNORECASE)


@dataclass(frozen=True)
class Recognition:
    informational: bool
    why: str  # for the card: what made it informational, or what kept it from being


def recognise(
    text: str, category: Category, signals: list[SignalHit], amounts: AmountReading
) -> Recognition:
    """Whether ``text`` (NFKC-folded) is a request for information and nothing more."""
    if category.name not in INFORMATIONAL_CATEGORIES:
        return Recognition(False, f"{category.name.replace('_', ' ')} is not answered unreviewed")
    if signals:
        return Recognition(False, f"risk signal: {signals[0].reason}")
    danger = _DANGER.search(text)
    if danger:
        words = " ".join(danger.group(0).split())[:40]
        return Recognition(False, f'mentions "{words}"')
    needs_account = _NEEDS_ACCOUNT.search(text)
    if needs_account:
        words = " ".join(needs_account.group(0).split())[:40]
        return Recognition(False, f'the answer depends on their account ("{words}")')
    if _TIMING.search(text) and _MOVING.search(text):
        return Recognition(False, "asks when money will move (they may be waiting for it)")
    if _CASH.search(text) and _RATE.search(text):
        return Recognition(False, "asks what cash or an ATM withdrawal costs or converts at")
    if amounts.amounts or amounts.unclear:
        return Recognition(False, "mentions an amount")
    pointed = _POINTED.search(text)
    if pointed:
        words = " ".join(pointed.group(0).split())[:40]
        return Recognition(False, f'points at one of their own payments ("{words}")')
    acted_on = _account_acted_on(text)
    if acted_on is not None:
        return Recognition(False, f'may change the account ("{acted_on}")')
    named = {word.lower() for word in _WORD.findall(text[:2_000])} - _FILLER
    if len(named) < 2:
        return Recognition(False, "too short to tell what is asked")
    if named & _OPERATIONS and not named - _OPERATIONS - _VAGUE and not _ASPECT.search(text):
        return Recognition(False, "names a money operation but not what about it is asked")
    if "?" in text or _ASKS.search(text):
        return Recognition(True, "a question with no risk signal")
    if category.name in _SELF_SERVICE:
        return Recognition(True, f"a {category.name.replace('_', ' ')} request with no risk signal")
    return Recognition(False, "not recognised as a question")


def _account_acted_on(text: str) -> str | None:
    """The words where something is done to the account other than what leaves it as it is."""
    for found in _ACCOUNT_AFTER.finditer(text[:2_000]):
        verb, word = (found.group(1) or "").lower(), found.group(2).lower()
        kept = verb in _PARTICLE_KEPT[word] if word in _PARTICLE_KEPT else word in _ACCOUNT_KEPT
        if not kept:
            return " ".join(found.group(0).split())[:40]
    return None
