"""Routing of new phrasings that appear in no dataset: risky requests go to a human, plain
questions may be answered automatically.

These sentences were written for this test, after the rules, and none comes from BANKING77 or
from the other heuristic tests: they check that the allow-list of ``bot.assess.informational``
rests on general rules (a pointer at one particular payment, something done to the account, a
money operation named without saying what is asked, ...), not on the words of known messages.
Each goes through the classifier and then the pipeline's own rule floor and routing
(``route_ticket``, what ``python -m bot eval`` runs).
"""

from __future__ import annotations

import pytest

from bot.assess.heuristic import HeuristicClassifier
from bot.entrypoints.routing_eval import route_ticket
from bot.tickets import Customer, TicketIn
from policies.routing import Route
from policies.thresholds import Thresholds

RISKY = [
    # someone else used the card
    "Somebody in another city bought plane tickets on my card last night.",
    "Who is paying for games with my debit card? It is not my kid.",
    "Who took 40 quid from me?",
    "A shop I have never visited shows up on the app. Was my card cloned?",
    # personal details change
    "I recently got divorced and go by my old surname again, please switch it.",
    "We relocated to Leeds. How do I put the new street on file?",
    "Can you amend my date of birth, it is off by a year",
    # a particular transfer to stop
    "Can that transfer from this morning still be pulled back?",
    "Please halt the payment I set up to my landlord an hour ago",
    "Is it too late to call off the wire I sent to Spain?",
    "Is it too late to recall my wire?",
    # money back, asked as a question
    "Could I get my money back for the headphones that never came?",
    "Am I entitled to get the fee returned on this payment?",
    "Would you give back what the hotel took twice?",
    # a top-up that came back
    "Why was my top-up sent back to my card?",
    "Has the top up I did yesterday bounced?",
    "Do you do top-ups?",
    # closing the account, in words no list has
    "I'd like to shut down my current account for good.",
    "How can I wind up this account?",
    # a machine kept the card
    "The cash machine at the station held on to my card.",
]

INFORMATIONAL = [
    "How do I add money to the app with a bank transfer?",
    "Which currencies can I hold in the app?",
    "Is there a fee for topping up with a credit card?",
    "What is the maximum I can top up in one day?",
    "How old do you need to be to open an account?",
    "Can I use Google Pay with the card?",
    "Which countries are you available in?",
    "How long does a new physical card take to be delivered?",
    "Where can I find the exchange rates you use?",
    "Do you offer disposable virtual cards for online shopping?",
]


async def _route(text: str) -> Route:
    ticket = TicketIn(
        id="paraphrase",
        kind="ticket",
        subject="",
        body=text,
        customer=Customer(name="Bank Customer", email="customer@example.com"),
    )
    route, _policy, _action = await route_ticket(HeuristicClassifier(), ticket, Thresholds())
    return route


@pytest.mark.parametrize("text", RISKY)
async def test_a_new_phrasing_of_a_risky_request_goes_to_a_human(text: str) -> None:
    assert await _route(text) == Route.REVIEW


@pytest.mark.parametrize("text", INFORMATIONAL)
async def test_a_new_phrasing_of_a_plain_question_may_be_answered_automatically(text: str) -> None:
    assert await _route(text) == Route.AUTO
