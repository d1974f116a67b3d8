"""BANKING77's 77 intents, each placed in the risk class a careful support lead would expect.

* ``high`` — money moves or should move, a charge is disputed or unrecognised, a card or phone
  is compromised, the account is closed or its personal details change. None of these may ever
  be executed without a human.
* ``informational`` — a question that a correct answer settles without any action. These are
  what automation is for: the goal is that most are answered automatically.
* ``attention`` — something is stuck or broken (a pending or declined payment, a blocked PIN):
  neither dangerous nor answerable from a FAQ. Reported, not scored.

A data catalogue, decided by people and read by ``bot.entrypoints.routing_eval``; the intent
names are the dataset's own (BANKING77 by PolyAI, CC BY 4.0).
"""

from __future__ import annotations

from typing import Literal

RiskClass = Literal["high", "informational", "attention"]

HIGH: frozenset[str] = frozenset(
    {
        "Refund_not_showing_up",
        "balance_not_updated_after_bank_transfer",
        "balance_not_updated_after_cheque_or_cash_deposit",
        "cancel_transfer",
        "card_payment_not_recognised",
        "card_payment_wrong_exchange_rate",
        "card_swallowed",
        "cash_withdrawal_not_recognised",
        "compromised_card",
        "direct_debit_payment_not_recognised",
        "edit_personal_details",
        "extra_charge_on_statement",
        "lost_or_stolen_card",
        "lost_or_stolen_phone",
        "request_refund",
        "terminate_account",
        "top_up_reverted",
        "transaction_charged_twice",
        "transfer_not_received_by_recipient",
        "wrong_amount_of_cash_received",
        "wrong_exchange_rate_for_cash_withdrawal",
    }
)
INFORMATIONAL: frozenset[str] = frozenset(
    {
        "activate_my_card",
        "age_limit",
        "apple_pay_or_google_pay",
        "atm_support",
        "automatic_top_up",
        "card_about_to_expire",
        "card_acceptance",
        "card_arrival",
        "card_delivery_estimate",
        "card_linking",
        "cash_withdrawal_charge",
        "change_pin",
        "country_support",
        "disposable_card_limits",
        "exchange_charge",
        "exchange_rate",
        "exchange_via_app",
        "fiat_currency_support",
        "get_disposable_virtual_card",
        "get_physical_card",
        "getting_spare_card",
        "getting_virtual_card",
        "order_physical_card",
        "receiving_money",
        "supported_cards_and_currencies",
        "top_up_by_bank_transfer_charge",
        "top_up_by_card_charge",
        "top_up_by_cash_or_cheque",
        "top_up_limits",
        "topping_up_by_card",
        "transfer_into_account",
        "transfer_timing",
        "verify_my_identity",
        "verify_top_up",
        "visa_or_mastercard",
        "why_verify_identity",
    }
)
ATTENTION: frozenset[str] = frozenset(
    {
        "beneficiary_not_allowed",
        "card_not_working",
        "card_payment_fee_charged",
        "contactless_not_working",
        "declined_card_payment",
        "declined_cash_withdrawal",
        "declined_transfer",
        "failed_transfer",
        "passcode_forgotten",
        "pending_card_payment",
        "pending_cash_withdrawal",
        "pending_top_up",
        "pending_transfer",
        "pin_blocked",
        "reverted_card_payment?",
        "top_up_failed",
        "transfer_fee_charged",
        "unable_to_verify_identity",
        "verify_source_of_funds",
        "virtual_card_not_working",
    }
)
INTENT_RISK: dict[str, RiskClass] = {
    **{intent: "high" for intent in HIGH},
    **{intent: "informational" for intent in INFORMATIONAL},
    **{intent: "attention" for intent in ATTENTION},
}
