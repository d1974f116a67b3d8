"""Earned autonomy: the evidence per bucket (``evidence``), the route step's second opinion
(``routing``), the leads' report (``report``) and spot checks after the fact.
"""
