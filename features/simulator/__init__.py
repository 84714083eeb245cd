"""A simulated e-commerce platform with known ground truth.

Users carry hidden state (engagement, a drifting regime, frustration after bad
experiences) that drives logins, browsing, orders, refunds, tickets, reviews
and the response to coupons. The simulator writes a dataset in the data
contract's layout plus ``truth/`` tables holding, for each month-end, every
user's true probability of not buying in the next 30 days and the true effect
of a coupon on it.

Entry point: :func:`features.simulator.run.simulate`.
"""
