"""The loan ledger: a loan per accepted application, its postings (tranches paid out, repayments) and the pure
arithmetic (balance, accrued interest, remaining schedule) that follows from them. See docs/loans.md.

``loans.ledger`` and ``loans.terms`` are pure (core layer); ``loans.service`` is the service over the database
(``get_loan``, ``list_loans``, ``post_disbursement``, ``post_repayment``, ``set_loan_state``), above
``agrisense.lending``, which books a loan through ``loans.booking`` when a farmer accepts an offer.
"""

from agrisense.loans.ledger import Due, Position, Posting, Terms, Tranche, position, remaining_schedule

__all__ = ["Due", "Position", "Posting", "Terms", "Tranche", "position", "remaining_schedule"]
