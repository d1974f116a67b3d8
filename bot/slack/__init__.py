"""Everything Signoff says in Slack: the Web API client and its pacing, mrkdwn escaping, the
review card and its publisher, the backlog of unposted cards, card updates, modals, App Home,
channel notices and the daily digest.
"""
